"""The white-spot analysis of many hromadas at once, on a Dask distributed cluster.

:func:`analyse_all` runs :func:`layers.coverage_analysis.analyse` — the function ``hromada coverage
analyse`` runs for one hromada — for every chosen hromada, one Dask task each, on the workers of a
``distributed.Client``: a LocalCluster on this machine (:func:`dask_client` with ``workers=N``) or a
scheduler that workers on other machines have joined (``scheduler="tcp://…"``). Each worker opens its
own connection to the database (the URL it is handed) for the evidence the analysis reads there —
speed tests, providers' claims, coverage rasters, whose files are on a path every worker sees under the
same name — and stores each hromada's run as ``coverage_run`` / ``coverage_result`` rows, exactly as a
single-process run does; the run's parameters say which engine made it (``parameters.engine``).

The national Ookla file (``ookla=``: Ookla's Parquet with the tile as WKT in ``tile``, or only a
``quadkey``; GeoParquet; or a shapefile / GeoPackage) never has to pass through one process, nor be
imported first:

1. each row group of the Parquet file (each chunk of a shapefile) is a partition a worker reads
   (dask-geopandas), dropping tiles outside the chosen hromadas' bounding box;
2. the partitions are joined (``dask_geopandas.sjoin``, intersects) to the hromadas' boundaries cut in
   pieces (``hromada_part``): a tile over two hromadas goes to both;
3. the joined tiles are shuffled into ranges of hromada ids (``set_index`` with divisions known in
   advance), so that each range is one partition held by one worker and the client knows which;
4. each hromada's task takes its own tiles out of its range and hands them to
   ``analyse(speed_tiles=…)``, which runs them through the same SQL as the ``speed_tile`` table's rows
   (the same transform, the same intersection test with the boundary, the same arithmetic).

With a file, the file's tiles stand in for the ``speed_tile`` table (a quarter's national file
replaces what was imported earlier, it is not added to it); without one each task reads
``speed_tile`` as the single-process analysis does.
"""
from __future__ import annotations

import bisect
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import sqlalchemy as sa

from gis import codes
from gis.errors import HromadaError, InvalidInput, NotFound, Unprocessable
from gis.models import HROMADA_PART_VERTICES
from importers.sources import PARQUET_GEOMETRY_NAMES, QUADKEY_NAMES, quadkey_tiles
from layers import coverage_analysis

log = logging.getLogger(__name__)

ENGINE = "dask.distributed"
SPEED_COLUMNS = ("avg_d_kbps", "avg_u_kbps")  # Ookla's names; the upload column may be missing
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
VECTOR_SUFFIXES = (".shp", ".gpkg", ".fgb", ".geojson", ".zip")
OGR_CHUNK_FEATURES = 50_000  # a shapefile partition: about one Parquet row group of Ookla's
# Ranges of hromadas per worker after the shuffle: several, so that work stealing can even out a
# worker that drew the big hromadas; few, so that the shuffle stays a handful of tasks.
RANGES_PER_WORKER = 4
# Per local worker. A worker process analysing the largest hromada (Генічеська, 2,510 km², 1 km hexes) peaked
# at 400 MB, nearly all of it the imported libraries; the rest is room for its share of the shuffled tiles.
DEFAULT_MEMORY_LIMIT = "2GiB"
CONNECT_TIMEOUT_S = 10  # a scheduler that does not answer by then is not there
WORKERS_TIMEOUT_S = 60  # workers of another machine may still be starting

_TILES_META = gpd.GeoDataFrame({"avg_d_kbps": pd.Series(dtype="Int64"), "avg_u_kbps": pd.Series(dtype="Int64")},
                               geometry=gpd.GeoSeries(crs="EPSG:4326"))
_PARTS_META = gpd.GeoDataFrame({"hromada_id": pd.Series(dtype="int64")}, geometry=gpd.GeoSeries(crs="EPSG:4326"))
_JOINED_META = pd.DataFrame({"hromada_id": pd.Series(dtype="int64"), "avg_d_kbps": pd.Series(dtype="Int64"),
                             "avg_u_kbps": pd.Series(dtype="Int64"), "wkb": pd.Series(dtype=object)})


@dataclass(frozen=True)
class Target:
    """A hromada to analyse."""

    hromada_id: int
    katottg: str
    name: str
    size: float  # its boundary's area in square degrees: only to start the big ones first


@dataclass
class Outcome:
    """What became of one hromada: its run, or why there is none."""

    katottg: str
    name: str
    run_id: int | None
    speed_tiles: int | None  # tiles of the file handed to it (None: it read the speed_tile table)
    seconds: float
    worker: str | None
    error: dict | None = None  # {"uk": …, "en": …}

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Report:
    outcomes: list[Outcome]
    seconds: float
    workers: int
    ookla: str | None
    skipped: int = 0  # hromadas left out of "all" because they have no settlement with a boundary
    notes: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


# --- the cluster -----------------------------------------------------------------------------------

@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, *,
                memory_limit: str | None = DEFAULT_MEMORY_LIMIT) -> Iterator:
    """A ``distributed.Client``: of the scheduler at ``scheduler`` (``tcp://host:8786``), once at least
    one worker has joined it, or of a LocalCluster of ``workers`` processes of one thread each (the
    analysis holds the GIL most of the time: processes, not threads, run it side by side)."""
    from distributed import Client, LocalCluster

    if scheduler and workers:
        raise InvalidInput("Вкажіть або --scheduler, або --workers, не обидва",
                           "Give either --scheduler or --workers, not both")
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise Unprocessable(f"Планувальник Dask {scheduler} не відповідає: {exc}",
                                f"The Dask scheduler {scheduler} does not answer: {exc}") from exc
        try:
            try:
                client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            except TimeoutError as exc:
                raise Unprocessable(
                    f"До планувальника Dask {scheduler} за {WORKERS_TIMEOUT_S} с не приєднався жоден робочий процес "
                    f"(dask worker {scheduler})",
                    f"No worker joined the Dask scheduler {scheduler} within {WORKERS_TIMEOUT_S} s "
                    f"(dask worker {scheduler})") from exc
            yield client
        finally:
            client.close()
        return
    if workers is not None and workers < 1:
        raise InvalidInput(f"Кількість робочих процесів {workers}: потрібен хоча б один",
                           f"Workers {workers}: at least one is needed")
    # No dashboard; the scheduler's HTTP server (health, metrics) still starts, and on 8787 unless told
    # otherwise: a second cluster on the machine (two analyses at once, two test workers) then found it
    # taken and warned. A free loopback port instead.
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster, Client(cluster) as client:
        yield client


def worker_count(client) -> int:
    return max(len(client.scheduler_info().get("workers", {})), 1)


# --- which hromadas ----------------------------------------------------------------------------------

_TARGET_SQL = """
    SELECT h.id, h.katottg, h.name_uk, ST_Area(h.boundary) AS size FROM hromada h
    WHERE {where} ORDER BY h.id"""
_HAS_SETTLEMENTS = ("EXISTS (SELECT 1 FROM settlement s WHERE s.hromada_id = h.id AND s.boundary IS NOT NULL)")
_ENABLED = "EXISTS (SELECT 1 FROM hromada_setup hs WHERE hs.hromada_id = h.id AND hs.enabled_at IS NOT NULL)"


def choose_hromadas(conn: sa.Connection, katottgs: Sequence[str] | None = None, *,
                    enabled_only: bool = False) -> tuple[list[Target], int]:
    """The hromadas to analyse and how many were left out.

    Given KATOTTG codes: those hromadas, each of which must exist (InvalidInput for a malformed code,
    NotFound naming every unknown one) — one without settlements then fails on its own, with the
    analysis's reason. Otherwise every hromada with at least one settlement boundary (the analysis has
    nothing to do without one; the rest are counted as left out), only those taking reports with
    ``enabled_only``.
    """
    if katottgs:
        if enabled_only:
            raise InvalidInput("Вкажіть або коди громад, або --enabled-only, не обидва",
                               "Give either hromada codes or --enabled-only, not both")
        wanted = list(dict.fromkeys(codes.katottg(k) for k in katottgs))
        rows = conn.execute(sa.text(_TARGET_SQL.format(where="h.katottg = ANY(:k)")), {"k": wanted}).all()
        missing = sorted(set(wanted) - {r.katottg for r in rows})
        if missing:
            raise NotFound(f"Громад з кодами КАТОТТГ {', '.join(missing)} немає в базі",
                           f"No hromada with KATOTTG {', '.join(missing)} in the database")
        return [Target(r.id, r.katottg, r.name_uk, float(r.size)) for r in rows], 0
    where = _HAS_SETTLEMENTS + (f" AND {_ENABLED}" if enabled_only else "")
    rows = conn.execute(sa.text(_TARGET_SQL.format(where=where))).all()
    total = conn.execute(sa.text("SELECT count(*) FROM hromada h" + (f" WHERE {_ENABLED}" if enabled_only else ""))
                         ).scalar()
    if not rows:
        which_uk, which_en = (", що приймає звернення", " and takes reports") if enabled_only else ("", "")
        raise Unprocessable(f"Немає жодної громади з межами населених пунктів{which_uk}: нічого аналізувати",
                            f"No hromada has settlement boundaries{which_en}: nothing to analyse")
    return [Target(r.id, r.katottg, r.name_uk, float(r.size)) for r in rows], total - len(rows)


def hromada_parts(conn: sa.Connection, hromada_ids: Sequence[int]) -> gpd.GeoDataFrame:
    """The hromadas' boundaries in pieces (EPSG:4326, at most ``HROMADA_PART_VERTICES`` vertices), what
    the tiles are joined to. ``hromada_part`` holds them for hromadas the loader brought in; others are
    cut here the same way."""
    rows = conn.execute(sa.text("""
        SELECT hromada_id, ST_AsBinary(geom) FROM hromada_part WHERE hromada_id = ANY(:ids)
        UNION ALL
        SELECT h.id, ST_AsBinary(ST_Subdivide(h.boundary, :vertices)) FROM hromada h
        WHERE h.id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM hromada_part p WHERE p.hromada_id = h.id)"""),
        {"ids": list(hromada_ids), "vertices": HROMADA_PART_VERTICES}).all()
    return gpd.GeoDataFrame({"hromada_id": np.array([r[0] for r in rows], dtype="int64")},
                            geometry=shapely.from_wkb([bytes(r[1]) for r in rows]), crs="EPSG:4326")


# --- the Ookla file ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OoklaFile:
    """What was found out about an Ookla file on the client, from its metadata alone."""

    path: str
    kind: str  # "parquet" or "vector"
    geometry: str | None  # the column holding the tile (None: a vector file's own geometry)
    encoding: str  # "wkb", "wkt", "quadkey" or "vector"
    crs: str | None  # the tiles' CRS when not WGS 84 longitude/latitude
    upload: bool  # has avg_u_kbps
    pieces: tuple = ()  # (file, row group) of a Parquet file: the partitions


def _not_readable(path, exc) -> InvalidInput:
    return InvalidInput(f"Не вдалося прочитати файл Ookla {path}: {exc}", f"Cannot read the Ookla file {path}: {exc}")


def _columns_problem(path, names) -> InvalidInput:
    return InvalidInput(
        f"{path}: це не файл плиток Ookla: потрібні колонка avg_d_kbps (і avg_u_kbps) та плитка — WKT/WKB "
        f"({', '.join(PARQUET_GEOMETRY_NAMES)}) або quadkey; знайдено: {', '.join(names)}",
        f"{path}: not an Ookla tile file: an avg_d_kbps column (and avg_u_kbps) and the tile — WKT/WKB "
        f"({', '.join(PARQUET_GEOMETRY_NAMES)}) or a quadkey — are needed; found: {', '.join(names)}")


def _lookup(names, wanted) -> str | None:
    lowered = {str(n).strip().lower(): n for n in names}
    return next((lowered[w] for w in wanted if w in lowered), None)


def inspect_ookla(path: str | Path) -> OoklaFile:
    """Check an Ookla file (or a folder of Parquet files) and find its columns, reading metadata only.

    NotFound when it is not there; InvalidInput when it cannot be read, is of another format, or lacks
    the speed or the tile columns. The path must name the same file on every worker (a shared folder).
    """
    p = Path(path)
    if not p.exists():
        raise NotFound(f"Файлу Ookla {p} немає", f"The Ookla file {p} does not exist")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in PARQUET_SUFFIXES)
        if not files:
            raise InvalidInput(f"У теці {p} немає файлів Parquet", f"The folder {p} holds no Parquet files")
    elif p.suffix.lower() in PARQUET_SUFFIXES:
        files = [p]
    elif p.suffix.lower() in VECTOR_SUFFIXES:
        return _inspect_vector(p)
    else:
        raise InvalidInput(f"{p.name}: файл Ookla має бути Parquet ({', '.join(PARQUET_SUFFIXES)}) або "
                           f"шейпфайл / GeoPackage ({', '.join(VECTOR_SUFFIXES)})",
                           f"{p.name}: an Ookla file must be Parquet ({', '.join(PARQUET_SUFFIXES)}) or a "
                           f"shapefile / GeoPackage ({', '.join(VECTOR_SUFFIXES)})")
    metas = []
    for f in files:
        try:
            metas.append(pq.ParquetFile(f))
        except (pa.ArrowException, OSError) as exc:
            raise _not_readable(f, exc) from exc
    schema = metas[0].schema_arrow
    names = schema.names
    raw_geo = (schema.metadata or {}).get(b"geo")
    geo = json.loads(raw_geo) if raw_geo else None
    crs = None
    if geo:  # GeoParquet: its primary column is WKB; no "crs" means OGC:CRS84 (longitude/latitude)
        column, encoding = geo.get("primary_column"), "wkb"
        crs = geo.get("columns", {}).get(column, {}).get("crs")
        crs = json.dumps(crs) if crs is not None else None
    elif (column := _lookup(names, PARQUET_GEOMETRY_NAMES)) is not None:
        binary = pa.types.is_binary(schema.field(column).type) or pa.types.is_large_binary(schema.field(column).type)
        encoding = "wkb" if binary else "wkt"
    else:
        column, encoding = _lookup(names, QUADKEY_NAMES), "quadkey"
    for f, meta in zip(files, metas, strict=True):  # a folder's files must all have what the workers will read
        if column not in meta.schema_arrow.names or SPEED_COLUMNS[0] not in meta.schema_arrow.names:
            raise _columns_problem(f, meta.schema_arrow.names)
    upload = all(SPEED_COLUMNS[1] in meta.schema_arrow.names for meta in metas)
    pieces = tuple((str(f), g) for f, meta in zip(files, metas, strict=True) for g in range(meta.num_row_groups))
    return OoklaFile(str(p), "parquet", column, encoding, _other_crs(crs), upload, pieces)


def _other_crs(crs) -> str | None:
    """``crs`` when tiles in it must be transformed to EPSG:4326; None for WGS 84 longitude/latitude in
    either axis order (OGC:CRS84, GeoParquet's default, is EPSG:4326 with the axes as the data has them)."""
    from pyproj import CRS

    if crs is None:
        return None
    parsed = CRS.from_user_input(crs)
    return None if parsed.equals(CRS.from_epsg(4326), ignore_axis_order=True) else parsed.to_wkt()


def _inspect_vector(p: Path) -> OoklaFile:
    import pyogrio

    source = f"/vsizip/{p}" if p.suffix.lower() == ".zip" else str(p)
    try:
        info = pyogrio.read_info(source)
    except Exception as exc:  # noqa: BLE001 — GDAL's errors are of many kinds; each one means "cannot read"
        raise _not_readable(p, exc) from exc
    names = list(info["fields"])
    if SPEED_COLUMNS[0] not in names or info.get("geometry_type") in (None, "Unknown"):
        raise _columns_problem(p, names)
    return OoklaFile(source, "vector", None, "vector", _other_crs(info.get("crs")), SPEED_COLUMNS[1] in names)


def _kbps(values) -> pd.array:
    """Whole kbit/s (nullable): what the speed_tile table's integer columns hold."""
    return pd.array(np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")),
                    dtype="Int64")


def _tiles(down, up, geoms, crs, bbox) -> gpd.GeoDataFrame:
    """A partition of tiles in EPSG:4326, without empty tiles and those off the hromadas' bounding box."""
    frame = gpd.GeoDataFrame({"avg_d_kbps": _kbps(down),
                              "avg_u_kbps": _kbps(up) if up is not None else pd.array([None] * len(down),
                                                                                      dtype="Int64")},
                             geometry=gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=crs or "EPSG:4326"))
    if crs:
        frame = frame.to_crs("EPSG:4326")
    x0, y0, x1, y1 = shapely.bounds(frame.geometry.values).T
    keep = ~np.isnan(x0) & (x1 >= bbox[0]) & (x0 <= bbox[2]) & (y1 >= bbox[1]) & (y0 <= bbox[3])
    return frame[keep].reset_index(drop=True)


def read_row_group(piece: tuple[str, int], source: OoklaFile, bbox: tuple) -> gpd.GeoDataFrame:
    """One Parquet row group as tiles (runs on a worker)."""
    file, group = piece
    columns = [source.geometry, *(c for c in SPEED_COLUMNS if c != SPEED_COLUMNS[1] or source.upload)]
    table = pq.ParquetFile(file).read_row_group(group, columns=columns)
    values = table.column(source.geometry).to_numpy(zero_copy_only=False)
    if source.encoding == "quadkey":
        geoms = quadkey_tiles(values)
    elif source.encoding == "wkb":
        geoms = shapely.from_wkb(values, on_invalid="ignore")
    else:
        geoms = shapely.from_wkt(values, on_invalid="ignore")
    up = table.column(SPEED_COLUMNS[1]).to_numpy(zero_copy_only=False) if source.upload else None
    return _tiles(table.column(SPEED_COLUMNS[0]).to_numpy(zero_copy_only=False), up, geoms, source.crs, bbox)


def _vector_chunk(frame: gpd.GeoDataFrame, source: OoklaFile, bbox: tuple) -> gpd.GeoDataFrame:
    return _tiles(frame[SPEED_COLUMNS[0]].to_numpy(),
                  frame[SPEED_COLUMNS[1]].to_numpy() if source.upload else None,
                  frame.geometry.values, source.crs, bbox)


def _by_hromada(joined: gpd.GeoDataFrame) -> pd.DataFrame:
    """The joined tiles as (hromada, speeds, WKB); a tile that met several pieces of one hromada once
    (the index is the tile's row in its partition, as the join keeps it)."""
    pairs = pd.DataFrame({"tile": joined.index.to_numpy(), "hromada": joined["hromada_id"].to_numpy()})
    joined = joined[~pairs.duplicated().to_numpy()]
    return pd.DataFrame({"hromada_id": joined["hromada_id"].to_numpy(dtype="int64"),
                         "avg_d_kbps": joined["avg_d_kbps"].array, "avg_u_kbps": joined["avg_u_kbps"].array,
                         "wkb": shapely.to_wkb(joined.geometry.values) if len(joined) else np.array([], object)})


def tiles_by_hromada(source: OoklaFile, parts, bbox: tuple, divisions: list[int]):
    """The file's tiles joined to the hromadas and shuffled into ranges of hromada ids, as a Dask
    DataFrame indexed by hromada id whose partition ``k`` holds ids ``divisions[k]`` up to the next.

    ``parts``: the future of :func:`hromada_parts` scattered to the workers — they go to the cluster
    once, as data of their own, rather than inside the graph (all of Ukraine's are some 20 MB); the
    caller keeps the future until the ranges are computed. ``bbox``: the parts' bounds."""
    import dask.dataframe as dd
    import dask_geopandas

    if source.kind == "parquet":
        tiles = dd.from_map(read_row_group, list(source.pieces), args=(source, bbox), meta=_TILES_META,
                            label="ookla-row-group", enforce_metadata=False)
    else:
        tiles = dask_geopandas.read_file(source.path, chunksize=OGR_CHUNK_FEATURES).map_partitions(
            _vector_chunk, source, bbox, meta=_TILES_META)
    pieces = dd.from_delayed([parts], meta=_PARTS_META)
    joined = dask_geopandas.sjoin(tiles, pieces, predicate="intersects")
    # Tasks, not p2p: the shuffled data are a few tens of MB for the whole country.
    return joined.map_partitions(_by_hromada, meta=_JOINED_META).set_index(
        "hromada_id", divisions=divisions, shuffle_method="tasks")


@dataclass
class TileRanges:
    """The shuffled tiles on the cluster: one future per range of hromada ids (a pandas DataFrame
    indexed by hromada id), the first id of each range, and the scattered boundary pieces the ranges
    were computed from (kept referenced until then: a released scatter is lost data)."""

    divisions: list[int]
    futures: list
    pieces: object

    def of(self, hromada_id: int):
        """The future of the range holding this hromada's tiles."""
        return self.futures[min(bisect.bisect_right(self.divisions, hromada_id) - 1, len(self.futures) - 1)]


def ookla_ranges(client, source: OoklaFile, parts: gpd.GeoDataFrame, ranges: int) -> TileRanges:
    """Start reading, joining and shuffling the Ookla file on the cluster into ``ranges`` ranges of the
    hromadas in ``parts``; returns at once with the futures."""
    ids = sorted(set(parts["hromada_id"].tolist()))
    step = max(len(ids) // max(ranges, 1), 1)
    divisions = [*ids[::step][:ranges], ids[-1]]
    pieces = client.scatter(parts, broadcast=True)
    frame = tiles_by_hromada(source, pieces, tuple(parts.total_bounds), divisions)
    return TileRanges(divisions, client.compute(frame.to_delayed()), pieces)


# --- on the workers ----------------------------------------------------------------------------------

_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _engine(database_url: str) -> sa.Engine:
    """One engine per database and worker process: its pool serves every task the worker runs. Each
    connection is pinged before a task takes it: a task is a hromada's whole analysis, and one that met a
    connection the server had ended (a restart, a failover) would fail that hromada."""
    from gis import db

    with _engines_lock:
        if database_url not in _engines:
            _engines[database_url] = db.make_engine(database_url, always_ping=True)
        return _engines[database_url]


def _tile_rows(frame: pd.DataFrame) -> list[tuple]:
    def plain(values):
        return [None if v is pd.NA else int(v) for v in values]

    return list(zip(plain(frame["avg_d_kbps"].array), plain(frame["avg_u_kbps"].array), frame["wkb"], strict=True))


def analyse_on_worker(database_url: str, target: Target, tiles: pd.DataFrame | None, options: dict) -> Outcome:
    """One hromada's analysis on a worker: ``analyse()`` on its own connection, in its own transaction.
    ``tiles``: its range of the shuffled Ookla tiles (None: read the speed_tile table)."""
    from distributed import get_worker

    from layers.registry import LAYERS

    started = time.perf_counter()
    rows = None
    if tiles is not None:
        rows = _tile_rows(tiles[tiles.index == target.hromada_id])
    try:
        worker = get_worker().address
    except ValueError:  # run outside a worker (a test calling it directly)
        worker = None
    try:
        with _engine(database_url).begin() as conn:
            run_id = coverage_analysis.analyse(
                conn, target.hromada_id, hex_size_m=options["hex_size_m"], test_radius_m=options["test_radius_m"],
                address_layer=coverage_analysis.address_layer_in(LAYERS), raster_store=options["raster_store"],
                speed_tiles=rows, run_notes=options["run_notes"])
    except HromadaError as exc:  # this hromada's own problem (no settlements …): the others go on
        return Outcome(target.katottg, target.name, None, None if rows is None else len(rows),
                       time.perf_counter() - started, worker, {"uk": exc.uk, "en": exc.en})
    return Outcome(target.katottg, target.name, run_id, None if rows is None else len(rows),
                   time.perf_counter() - started, worker)


# --- the job -----------------------------------------------------------------------------------------

def analyse_all(client, database_url: str, *, katottgs: Sequence[str] | None = None, ookla: str | Path | None = None,
                hex_size_m: float = coverage_analysis.DEFAULT_HEX_SIZE_M,
                test_radius_m: float = coverage_analysis.DEFAULT_TEST_RADIUS_M,
                raster_store: str | Path | None = None, enabled_only: bool = False) -> Report:
    """Analyse the chosen hromadas (all with settlement boundaries, or ``katottgs``) on the client's
    cluster; each gets a new run. Returns the outcome of each.

    Before anything runs: NotFound for an unknown KATOTTG or a missing Ookla file, InvalidInput for a
    malformed code, an unreadable or non-Ookla file or a bad hex size / radius. A hromada that cannot be
    analysed (no settlement boundaries, too many hex cells) fails alone, with the analysis's reason in
    its outcome; an unexpected error in a task (the database gone) is reported likewise, and logged.
    """
    import dask
    from distributed import as_completed

    from gis import db
    from importers.rasters import raster_store as default_store

    started = time.perf_counter()
    coverage_analysis._check_parameters(hex_size_m, test_radius_m, 0.0)  # the size's own bounds, before any work
    source = inspect_ookla(ookla) if ookla is not None else None
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            targets, skipped = choose_hromadas(conn, katottgs, enabled_only=enabled_only)
            parts = hromada_parts(conn, [t.hromada_id for t in targets]) if source else None
    finally:
        engine.dispose()
    workers = worker_count(client)
    notes = {"engine": {"name": ENGINE, "dask": dask.__version__, "workers": workers,
                        "speed_tiles_from": f"file {Path(source.path).name}" if source else "table speed_tile"}}
    options = {"hex_size_m": float(hex_size_m), "test_radius_m": float(test_radius_m),
               "raster_store": str(raster_store or default_store()), "run_notes": notes}
    log.info("coverage analysis of %d hromadas on %d Dask workers%s", len(targets), workers,
             f", Ookla tiles from {source.path} ({len(source.pieces) or 'chunks of'} partitions)" if source else "")

    ranges = ookla_ranges(client, source, parts, workers * RANGES_PER_WORKER) if source is not None else None
    # Bigger hromadas first: the last task to start should be a short one, or one worker idles while
    # the other finishes a big hromada alone.
    order = sorted(targets, key=lambda t: -t.size)
    job = uuid.uuid4().hex[:12]  # the tasks' names on the dashboard: coverage-<KATOTTG>-<job>
    futures = {}
    for rank, target in enumerate(order):
        tiles = ranges.of(target.hromada_id) if ranges is not None else None
        future = client.submit(analyse_on_worker, database_url, target, tiles, options,
                               priority=len(order) - rank, key=f"coverage-{target.katottg}-{job}")
        futures[future] = target
    outcomes = []
    for future in as_completed(futures):
        target = futures[future]
        if future.status == "error":
            exc = future.exception()
            log.error("coverage analysis of %s failed", target.katottg, exc_info=(type(exc), exc, future.traceback()))
            outcomes.append(Outcome(target.katottg, target.name, None, None, 0.0, None,
                                    {"uk": f"Внутрішня помилка: {exc!r}", "en": f"Internal error: {exc!r}"}))
        else:
            outcomes.append(future.result())
        if len(outcomes) % 100 == 0:
            log.info("coverage analysis: %d of %d hromadas done", len(outcomes), len(targets))
    del ranges  # the shuffled tiles and the pieces leave the workers' memory
    outcomes.sort(key=lambda o: o.katottg)
    return Report(outcomes, time.perf_counter() - started, workers, source.path if source else None, skipped, notes)
