"""Opening what people bring: a file or a zip of one, read in batches with pyogrio (GDAL), or
with pyarrow for Apache Parquet (GeoParquet, or Ookla's tiles with WKT or only a quadkey).

``open_source`` checks size and, for a zip, path traversal and the unpacked size before anything is
extracted; ``read_batches`` yields GeoDataFrames of at most ``batch_size`` features in the file's
own CRS, so a million-point file never has to fit in memory at once.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import mercantile
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyogrio
import shapely
from pygeodesy.dms import parseDMS
from pyogrio.raw import open_arrow

from gis.errors import InvalidInput, NotFound
from gis.geometry import UKRAINE_BBOX

log = logging.getLogger(__name__)

MAX_FILE_BYTES = int(os.environ.get("HROMADA_IMPORT_MAX_BYTES", 2 * 1024**3))
MAX_UNZIPPED_BYTES = int(os.environ.get("HROMADA_IMPORT_MAX_UNZIPPED_BYTES", 4 * 1024**3))
MAX_ZIP_RATIO = 200  # a member that expands more than this is a zip bomb
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".kml", ".csv", ".osm", ".pbf", ".fgb", ".gml",
                   ".parquet"}
OSMCONF = Path(__file__).with_name("osmconf.ini")


@dataclass
class Source:
    path: Path  # the file GDAL reads (inside the unpacked zip, if one was given)
    name: str  # what the user gave, for reports
    kind: str  # "vector", "csv", "osm", "parquet"


def _check_size(path: Path) -> None:
    limit = MAX_FILE_BYTES
    size = path.stat().st_size
    if size > limit:
        raise InvalidInput(f"Файл {path.name} завеликий: {size / 1024**2:.0f} МБ, можна до {limit / 1024**2:.0f} МБ",
                           f"File {path.name} is too large: {size / 1024**2:.0f} MB, the limit is "
                           f"{limit / 1024**2:.0f} MB")


def safe_unzip(archive: Path, into: Path) -> list[Path]:
    """Unpack ``archive`` into ``into``, refusing escapes from the folder and zip bombs."""
    max_total = MAX_UNZIPPED_BYTES
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise InvalidInput(f"{archive.name}: пошкоджений zip-архів", f"{archive.name}: corrupt zip archive") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        total = 0
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise InvalidInput(f"{archive.name}: файл {member.filename!r} виходить за межі архіву",
                                   f"{archive.name}: member {member.filename!r} points outside the archive")
            total += member.file_size
            if total > max_total or (member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO
                                     and member.file_size > 10 * 1024**2):
                raise InvalidInput(f"{archive.name}: архів розпаковується в завеликий обсяг (zip-бомба?)",
                                   f"{archive.name}: the archive expands too much (a zip bomb?)")
        written = []
        for member in members:
            target = into / PurePosixPath(member.filename.replace("\\", "/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                copied = _copy_limited(src, dst, member.file_size)
            if copied != member.file_size:
                raise InvalidInput(f"{archive.name}: розмір файлу {member.filename!r} не відповідає заявленому",
                                   f"{archive.name}: member {member.filename!r} is not the size it claims")
            written.append(target)
        return written


def _copy_limited(src, dst, declared: int) -> int:
    copied = 0
    while chunk := src.read(1024 * 1024):
        copied += len(chunk)
        if copied > declared:
            return copied  # more than declared: refused by the caller
        dst.write(chunk)
    return copied


@contextlib.contextmanager
def open_source(path: str | Path) -> Iterator[Source]:
    """The readable file behind ``path`` (a zip is unpacked safely into a temporary folder)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"Файл {path} не знайдено", f"File {path} not found")
    _check_size(path)
    if path.suffix.lower() == ".zip":
        folder = Path(tempfile.mkdtemp(prefix="hromada-import-"))
        try:
            files = safe_unzip(path, folder)
            candidates = [f for f in files if f.suffix.lower() in VECTOR_SUFFIXES]
            if not candidates:
                raise InvalidInput(f"{path.name}: в архіві немає файлу з даними (.shp, .gpkg, .geojson, …)",
                                   f"{path.name}: no data file (.shp, .gpkg, .geojson, …) in the archive")
            candidates.sort(key=lambda f: (f.suffix.lower() != ".shp", len(f.parts), f.name))
            yield Source(candidates[0], path.name, _kind(candidates[0]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    yield Source(path, path.name, _kind(path))


def _kind(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".osm.pbf") else path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".osm", ".pbf", ".osm.pbf"):
        return "osm"
    if suffix == ".parquet":
        return "parquet"  # read with pyarrow: GDAL here has no Parquet driver
    return "vector"


def list_layers(source: Source) -> list[str]:
    if source.kind == "parquet":
        return []
    _osm_config(source)
    try:
        with gdal_quiet(source.name):
            return [name for name, _ in pyogrio.list_layers(source.path)]
    except Exception as exc:  # GDAL raises several types for unreadable data
        raise InvalidInput(f"Не вдалося прочитати {source.name}: {exc}", f"Cannot read {source.name}: {exc}") from exc


def source_crs(source: Source, layer: str | None) -> str | None:
    if source.kind == "csv":
        return None
    if source.kind == "parquet":
        return parquet_crs(source)
    _osm_config(source)
    with gdal_quiet(source.name):
        return pyogrio.read_info(source.path, layer=layer).get("crs")


@contextlib.contextmanager
def gdal_quiet(source_name: str):
    """GDAL's warnings (pyogrio turns them into RuntimeWarning) go to the log, not the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for w in caught:
        log.info("GDAL on %s: %s", source_name, w.message)


def _osm_config(source: Source) -> None:
    if source.kind == "osm":
        # Process-wide GDAL setting; every OSM read wants the same file, so setting it again is harmless.
        pyogrio.set_gdal_config_options({"OSM_CONFIG_FILE": str(OSMCONF)})


# Where read_batches(keep_wkb=True) leaves each batch's WKB as the file gave it (DataFrame.attrs).
SOURCE_WKB = "hromada_source_wkb"
# The first bytes (little-endian flag, type code) of WKB that PostGIS takes for a 2D column as it is:
# points … multipolygons, no Z or M, no curves.
_PLAIN_WKB_HEADS = pa.array([b"\x01" + code.to_bytes(4, "little") for code in range(1, 7)])


def read_batches(source: Source, *, layer: str | None = None, encoding: str | None = None,
                 batch_size: int = 50_000, csv_columns: dict | None = None,
                 keep_wkb: bool = False) -> Iterator[gpd.GeoDataFrame]:
    """Features of ``source`` in batches; geometry in the file's CRS (no reprojection here).

    ``keep_wkb``: each batch's ``attrs[SOURCE_WKB]`` holds the file's own WKB of each row where it is plain
    2D WKB (else None), in the rows' order: an importer that changes nothing of a geometry can send
    those bytes on instead of writing them again (importers.pipeline). Read it before changing the rows."""
    kwargs = {"encoding": encoding} if encoding else {}
    _osm_config(source)
    try:
        if source.kind == "parquet":
            yield from parquet_batches(source, batch_size)
            return
        reader_ctx = open_arrow(source.path, layer=layer, batch_size=batch_size, use_pyarrow=True,
                                read_geometry=source.kind != "csv", **kwargs)
        with gdal_quiet(source.name), reader_ctx as (meta, reader):
            geometry_name = meta.get("geometry_name") or "wkb_geometry"
            for batch in reader:
                if source.kind == "csv":
                    yield csv_geometry(batch.to_pandas(), csv_columns or {})
                    continue
                # The geometry's WKB straight from Arrow, not through pandas (half the time of the reading
                # thread's own Python work, which competes with the import's checks for the GIL).
                has_geometry = geometry_name in batch.schema.names
                frame = (batch.drop_columns([geometry_name]) if has_geometry else batch).to_pandas()
                wkb = batch.column(geometry_name).to_numpy(zero_copy_only=False) if has_geometry else None
                features = gpd.GeoDataFrame(frame, geometry=None if wkb is None else shapely.from_wkb(wkb))
                if keep_wkb and wkb is not None:
                    plain = pc.is_in(pc.binary_slice(batch.column(geometry_name), 0, 5), value_set=_PLAIN_WKB_HEADS)
                    features.attrs[SOURCE_WKB] = np.where(plain.to_numpy(zero_copy_only=False), wkb, None)
                yield features
    except (InvalidInput, NotFound):
        raise
    except Exception as exc:  # pyogrio/GDAL errors come in many types
        raise InvalidInput(f"Не вдалося прочитати {source.name}: {exc}", f"Cannot read {source.name}: {exc}") from exc


# --- CSV: coordinates as numbers, degrees-minutes-seconds text, or WKT -------------------------

LAT_NAMES = ("lat", "latitude", "y", "широта")
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "довгота")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "геометрія")


def _find(columns, names) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def parse_coordinate(text) -> float | None:
    """A coordinate typed by hand: ``48.675``, ``48,675``, ``48°40'31"N`` or ``N 48°40'31"``."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    value = str(text).strip().replace("″", '"').replace("′", "'").replace("’", "'")
    if not value:
        return None
    if value[0].upper() in "NSEWПнПдСЗ" and not value[0].isdigit():
        # A hemisphere written first (N 48°…): pygeodesy reads it written last.
        value = value[1:].strip() + value[0].upper().replace("П", "N")
    if value.count(",") == 1 and "." not in value and "°" not in value:
        value = value.replace(",", ".")
    try:
        return float(parseDMS(value))
    except Exception:  # pygeodesy raises ParseError, and ValueError for some inputs
        return None


def csv_geometry(frame: pd.DataFrame, columns: dict) -> gpd.GeoDataFrame:
    """Points from lat/lon columns (decimal or DMS), or geometry from a WKT column.

    Unreadable coordinates give an empty geometry, which validation rejects with the row number.
    """
    wkt = columns.get("wkt") or _find(frame.columns, WKT_NAMES)
    lat = columns.get("lat") or _find(frame.columns, LAT_NAMES)
    lon = columns.get("lon") or _find(frame.columns, LON_NAMES)
    if wkt and wkt in frame:
        geoms = shapely.from_wkt(frame[wkt].astype(object).where(frame[wkt].notna(), None), on_invalid="ignore")
        frame = frame.drop(columns=[wkt])
    elif lat in frame and lon in frame:
        lats = [parse_coordinate(v) for v in frame[lat]]
        lons = [parse_coordinate(v) for v in frame[lon]]
        geoms = [shapely.Point(x, y) if x is not None and y is not None else None
                 for x, y in zip(lons, lats, strict=True)]
        frame = frame.drop(columns=[lat, lon])
    elif quadkey := _find(frame.columns, QUADKEY_NAMES):
        geoms = quadkey_tiles(frame[quadkey])  # the column stays: it is a field of tile layers
    else:
        raise InvalidInput(
            f"У CSV немає колонок з координатами: потрібні широта/довгота ({', '.join(LAT_NAMES)} / "
            f"{', '.join(LON_NAMES)}), WKT або quadkey; знайдено: {', '.join(map(str, frame.columns))}",
            f"The CSV has no coordinate columns: latitude/longitude ({', '.join(LAT_NAMES)} / "
            f"{', '.join(LON_NAMES)}), WKT or a quadkey are needed; found: {', '.join(map(str, frame.columns))}")
    return gpd.GeoDataFrame(frame, geometry=list(geoms))


# --- OpenStreetMap: all tags as JSON, filtered by key=value ------------------------------------

OSM_LAYER_FOR = {"Point": "points", "MultiPoint": "points", "LineString": "lines",
                 "MultiLineString": "lines", "Polygon": "multipolygons", "MultiPolygon": "multipolygons"}


def osm_tags(frame: gpd.GeoDataFrame) -> list[dict]:
    return [json.loads(t) if isinstance(t, str) and t else {} for t in frame.get("all_tags", [None] * len(frame))]


def osm_matches(tags: dict, filters: list[tuple[str, str | None]]) -> bool:
    """Whether the tags match every ``key=value`` (``key`` alone: any value)."""
    return all((k in tags) if v is None else tags.get(k) == v for k, v in filters)


def osm_filter(frame: gpd.GeoDataFrame, filters: list[tuple[str, str | None]]) -> gpd.GeoDataFrame:
    """Keep features whose tags match every ``key=value`` (``key`` alone: any value); tags become columns."""
    tags = osm_tags(frame)
    keep = [osm_matches(t, filters) for t in tags]
    kept = frame[keep].copy()
    kept_tags = [t for t, k in zip(tags, keep, strict=True) if k]
    out = pd.DataFrame(kept_tags, index=kept.index) if kept_tags else pd.DataFrame(index=kept.index)
    out["osm_id"] = kept.get("osm_id", kept.get("osm_way_id"))
    return gpd.GeoDataFrame(out, geometry=kept.geometry.values, crs=kept.crs)


# --- Apache Parquet: GeoParquet, or Ookla's tiles (WKT ``tile`` column, or only a quadkey) ---------

QUADKEY_NAMES = ("quadkey",)
_QUADKEY = re.compile(r"[0-3]{1,30}")
PARQUET_GEOMETRY_NAMES = ("geometry", "tile", "wkt", "geom", "the_geom")


def quadkey_tiles(quadkeys) -> np.ndarray:
    """Web Mercator tile polygons (lon/lat) of quadkeys; None for an empty or malformed one."""
    bounds = np.full((len(quadkeys), 4), np.nan)
    for i, key in enumerate(quadkeys):
        key = "" if key is None or (isinstance(key, float) and np.isnan(key)) else str(key).strip()
        if _QUADKEY.fullmatch(key):
            bounds[i] = mercantile.bounds(mercantile.quadkey_to_tile(key))
    boxes = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    boxes[np.isnan(bounds[:, 0])] = None
    return boxes


def _parquet_file(source: Source) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(source.path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"Не вдалося прочитати {source.name}: {exc}", f"Cannot read {source.name}: {exc}") from exc


def _geo_metadata(file: pq.ParquetFile) -> dict | None:
    raw = (file.schema_arrow.metadata or {}).get(b"geo")
    return json.loads(raw) if raw else None


def parquet_crs(source: Source) -> str | None:
    """GeoParquet's CRS (PROJJSON; absent means OGC:CRS84); a plain Parquet file (Ookla's) is WGS 84."""
    geo = _geo_metadata(_parquet_file(source))
    if geo is None:
        return "EPSG:4326"
    column = geo.get("columns", {}).get(geo.get("primary_column"), {})
    if "crs" not in column:
        return "OGC:CRS84"
    return json.dumps(column["crs"]) if column["crs"] is not None else None


def parquet_batches(source: Source, batch_size: int) -> Iterator[gpd.GeoDataFrame]:
    """Batches of a Parquet file, geometry from (in this order) GeoParquet's primary column, a WKB or
    WKT column (``geometry``, ``tile``, ``wkt``, …), or the ``quadkey`` alone (its Web Mercator tile).

    Plain Parquet files are Ookla's world-wide tiles: only tiles wholly inside Ukraine's bounding box
    are kept, so a quarter of the world (millions of tiles) imports as Ukraine's ~100k.
    """
    file = _parquet_file(source)
    geo = _geo_metadata(file)
    names = file.schema_arrow.names
    column = geo.get("primary_column") if geo else _find(names, PARQUET_GEOMETRY_NAMES)
    quadkey = _find(names, QUADKEY_NAMES)
    if column not in names and quadkey is None:
        raise InvalidInput(
            f"{source.name}: у файлі Parquet немає геометрії: потрібна колонка WKB/WKT "
            f"({', '.join(PARQUET_GEOMETRY_NAMES)}) або quadkey; знайдено: {', '.join(names)}",
            f"{source.name}: the Parquet file has no geometry: a WKB/WKT column "
            f"({', '.join(PARQUET_GEOMETRY_NAMES)}) or a quadkey is needed; found: {', '.join(names)}")
    skipped = 0
    for batch in file.iter_batches(batch_size=batch_size):
        frame = batch.to_pandas()
        if column in frame:
            values = frame.pop(column).astype(object).where(lambda v: v.notna(), None).to_numpy()
            binary = pa.types.is_binary(batch.schema.field(column).type) or \
                pa.types.is_large_binary(batch.schema.field(column).type)
            geoms = shapely.from_wkb(values, on_invalid="ignore") if binary \
                else shapely.from_wkt(values, on_invalid="ignore")
        else:
            geoms = quadkey_tiles(frame[quadkey].to_numpy())
        if geo is None:
            x0, y0, x1, y1 = shapely.bounds(geoms).T
            keep = np.isnan(x0) | ((x0 >= UKRAINE_BBOX[0]) & (y0 >= UKRAINE_BBOX[1])
                                   & (x1 <= UKRAINE_BBOX[2]) & (y1 <= UKRAINE_BBOX[3]))
            skipped += int((~keep).sum())
            frame, geoms = frame[keep].reset_index(drop=True), geoms[keep]
        yield gpd.GeoDataFrame(frame, geometry=list(geoms))
    if skipped:
        log.info("%s: %d tiles outside Ukraine skipped", source.name, skipped)
