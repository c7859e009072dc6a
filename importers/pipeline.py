"""Importing a file into any declared layer: read → reproject → check → map fields → COPY → merge.

One transaction: the import lands whole or not at all. Features that cannot be used are rejected
with their row number and the reason; everything else is counted in an :class:`ImportReport`,
which is printed, saved in ``import_run`` and shown on the admin's upload page.
"""
from __future__ import annotations

import contextlib
import json
import logging
import operator
import re
import sys
import zoneinfo
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely
import sqlalchemy as sa
from tqdm import tqdm

from gis.bulk import INT4_RANGE, BinaryCopy, compress_with_lz4, create_staging
from gis.crs import STORAGE_SRID
from gis.errors import HromadaError, InvalidInput, NotFound
from gis.geometry import to_multipolygon
from gis.hromada_index import HromadaIndex
from gis.models import import_run
from importers import sources
from importers.crs_check import check_in_ukraine
from layers import history
from layers.base import Field, Layer, label
from layers.tables import build_table
from layers.values import FALSE, TRUE, BadValue, _text, check, convert  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)
LISTED_REJECTIONS = 50
ACCEPTED_TYPES = {  # what each layer geometry takes from a file (promoted on the way in)
    "Point": {"Point"}, "MultiPoint": {"Point", "MultiPoint"},
    "LineString": {"LineString"}, "MultiLineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon"}, "MultiPolygon": {"Polygon", "MultiPolygon"},
}
# The staging table's column types, as layers.tables makes the layer's columns.
STAGING_TYPES = {"integer": "int4", "number": "float8", "money": "numeric(16,2)", "boolean": "bool", "date": "date",
                 "datetime": "timestamptz", "unit": "int4", "hromada": "int4", "category": "int4",
                 "json": "jsonb"}
# How each field type's converted values travel to the COPY (JSON as its text).
ARROW_TYPES = {"integer": pa.int64(), "unit": pa.int64(), "hromada": pa.int64(), "category": pa.int64(),
               "number": pa.float64(), "money": pa.decimal128(16, 2), "boolean": pa.bool_(), "date": pa.date32(),
               "datetime": pa.timestamp("us", "UTC")}
# A date and time without an offset is Ukraine's local time (the data's, not the server's).
LOCAL_TIME = zoneinfo.ZoneInfo("Europe/Kyiv")


@dataclass
class ImportOptions:
    source_layer: str | None = None  # layer inside a GeoPackage or OSM file
    crs: str | None = None  # the file's CRS when it has none (or to override a wrong one)
    mapping: dict[str, str] = field(default_factory=dict)  # source column → layer field
    upsert_key: str | None = None  # a field: rows with a known key are updated, not added
    dry_run: bool = False
    encoding: str | None = None  # e.g. cp1251 for an old .dbf without .cpg
    osm_filters: list[tuple[str, str | None]] = field(default_factory=list)
    csv_columns: dict[str, str] = field(default_factory=dict)  # {"lat": …, "lon": …} or {"wkt": …}
    batch_size: int = 50_000
    progress: bool | None = None  # None: when writing to a terminal
    user_id: int | None = None
    # Who the history of the layer's features names for the import when no account makes it (the command line).
    author: str | None = None
    # An administrator imports into his own hromada only: features elsewhere are rejected.
    only_hromada_id: int | None = None
    # Each batch as read → the batch to import (a saved mapping's row filter, value maps, constants:
    # importers/saved_mappings.py); rows it drops are counted as skipped.
    prepare: Callable | None = None


@dataclass
class ImportReport:
    layer: str
    source: str
    dry_run: bool
    crs: str | None = None
    read: int = 0
    accepted: int = 0
    repaired: int = 0
    rejected: int = 0
    skipped: int = 0  # left out by the saved mapping's row filter
    inserted: int = 0
    updated: int = 0
    field_map: dict[str, str] = field(default_factory=dict)  # layer field ← source column
    kept_in_raw: list[str] = field(default_factory=list)
    rejections: list[tuple[int, str]] = field(default_factory=list)  # the first LISTED_REJECTIONS
    run_id: int | None = None

    def reject(self, row: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < LISTED_REJECTIONS:
            self.rejections.append((row, reason))

    def summary(self, lang: str = "uk") -> str:
        if lang == "en":
            head = (f"{self.source} → {self.layer}{' (dry run, nothing written)' if self.dry_run else ''}: "
                    f"read {self.read}, accepted {self.accepted} (inserted {self.inserted}, updated {self.updated}), "
                    f"repaired {self.repaired}, rejected {self.rejected}; CRS {self.crs}")
        else:
            head = (f"{self.source} → {self.layer}{' (пробний запуск, нічого не записано)' if self.dry_run else ''}: "
                    f"прочитано {self.read}, прийнято {self.accepted} "
                    f"(додано {self.inserted}, оновлено {self.updated}), "
                    f"виправлено {self.repaired}, відхилено {self.rejected}; система координат {self.crs}")
        if self.skipped:
            head += f"; {'skipped by the mapping' if lang == 'en' else 'пропущено за зіставленням'} {self.skipped}"
        lines = [head, "  fields: " + ", ".join(f"{k} ← {v}" for k, v in self.field_map.items())]
        if self.kept_in_raw:
            lines.append("  kept in raw: " + ", ".join(self.kept_in_raw))
        lines += [f"  row {row}: {why}" for row, why in self.rejections]
        if self.rejected > len(self.rejections):
            lines.append(f"  … {self.rejected - len(self.rejections)} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


class _DryRun(Exception):
    """Raised inside the transaction of a dry run so that nothing is written."""


# --- converting values to the declared field types -------------------------------------------------

def arrow_type(f: Field) -> pa.DataType:
    return ARROW_TYPES.get(f.type, pa.string())


def convert_column(f: Field, column: pd.Series) -> tuple[pa.Array, dict[int, str]]:
    """A whole source column as the field's type: an Arrow array of the values (null for empty)
    and, by position, why a value could not be converted (or breaks the field's own ``check``)."""
    values, errors = _typed_column(f, column)
    if f.check is not None or f.minimum is not None or f.maximum is not None:
        values = values.to_pylist()
        for i, value in enumerate(values):
            try:
                check(f, value)
            except BadValue as exc:
                values[i], errors[i] = None, str(exc)
        values = pa.array(values, type=arrow_type(f))
    return values, errors


def _typed_column(f: Field, column: pd.Series) -> tuple[pa.Array, dict[int, str]]:
    """Vectorised for the common types (text in Arrow's C++ kernels); ``convert`` does the rest."""
    column = pd.Series(column).reset_index(drop=True)
    if f.type in ("number", "integer") and pd.api.types.is_numeric_dtype(column.dtype):
        return _numbers(f, column, pd.to_numeric(column, errors="coerce"), column.isna().to_numpy())
    if f.type not in ("text", "number", "integer", "choice"):
        values, errors = [], {}
        for i, value in enumerate(column.astype(object)):
            try:
                values.append(convert(f, value))
            except BadValue as exc:
                values.append(None)
                errors[i] = str(exc)
        if f.type == "datetime":
            values = [v if v is None or v.tzinfo else v.replace(tzinfo=LOCAL_TIME) for v in values]
        return pa.array(values, type=arrow_type(f)), errors
    text = _normalised_text(column)  # whitespace runs → one space, trimmed; None stays None
    empty = pc.fill_null(pc.equal(text, ""), True)
    if f.type == "text":
        return pc.if_else(empty, pa.scalar(None, pa.string()), text), {}
    empty = empty.to_numpy(zero_copy_only=False)
    if f.type in ("number", "integer"):
        digits = pc.replace_substring(pc.replace_substring(text, " ", ""), ",", ".")
        numbers = pd.to_numeric(pd.Series(digits.to_pylist(), dtype=object).where(~empty), errors="coerce")
        return _numbers(f, column, numbers, empty)
    lookup = {code.lower(): code for code in f.choices}
    lookup.update({lbl.lower(): code for code, labels in f.choices.items() for lbl in labels.values()})
    spellings = pa.array(list(lookup), type=pa.string())
    codes = pc.take(pa.array(list(lookup.values()), type=pa.string()),
                    pc.index_in(pc.utf8_lower(text), value_set=spellings))
    bad = np.flatnonzero(codes.is_null().to_numpy(zero_copy_only=False) & ~empty)
    errors = {int(i): f"{column[i]!r} is not one of {', '.join(f.choices)}" for i in bad}
    return codes, errors


def _normalised_text(column: pd.Series) -> pa.Array:
    """The column as Arrow strings with whitespace runs collapsed and the ends trimmed."""
    try:
        array = pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or dates in a text column: as text
        array = pa.array(column.astype(object).where(column.notna(), None).map(
            lambda v: v if v is None else str(v)), type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(array, r"\s+", " "))


def _numbers(f: Field, column: pd.Series, numbers: pd.Series, empty: np.ndarray) -> tuple[pa.Array, dict[int, str]]:
    values = pd.Series(numbers).astype("float64").to_numpy()
    bad = ~empty & np.isnan(values)
    errors = {int(i): f"{column[i]!r} is not a number" for i in np.flatnonzero(bad)}
    if f.type == "integer":
        fractional = ~empty & ~bad & (values != np.round(values))
        errors.update({int(i): f"{column[i]!r} is not a whole number" for i in np.flatnonzero(fractional)})
        bad |= fractional
        huge = ~empty & ~bad & ((values < INT4_RANGE[0]) | (values > INT4_RANGE[1]))
        errors.update({int(i): f"{column[i]!r} is beyond ±{INT4_RANGE[1]:,}" for i in np.flatnonzero(huge)})
        bad |= huge
        missing = empty | bad
        return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing), errors
    return pa.array(values, mask=empty | bad, type=pa.float64()), errors


# --- choosing which column feeds which field ---------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().lower()


def map_columns(layer: Layer, columns: list[str], explicit: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Layer field → source column (by ``--map``, name, alias or label), and the columns left over."""
    fields = {f.name: f for f in layer.input_fields}
    unknown = [dst for dst in explicit.values() if dst not in fields]
    if unknown:
        raise InvalidInput(f"--map: у шарі {layer.name} немає полів {', '.join(unknown)}",
                           f"--map: layer {layer.name} has no fields {', '.join(unknown)}")
    missing = [src for src in explicit if src not in columns]
    if missing:
        raise InvalidInput(f"--map: у файлі немає колонок {', '.join(missing)}",
                           f"--map: the file has no columns {', '.join(missing)}")
    chosen = {dst: src for src, dst in explicit.items()}
    by_name = {_norm(c): c for c in columns}
    # Exact names first, then labels (an export with headings), then aliases: so "Name", the English
    # label of name_en, is not taken by name_uk's alias "name".
    passes = (lambda f: (f.name, f.column_name), lambda f: tuple(f.label.values()), lambda f: f.aliases)
    for candidates_of in passes:
        for f in layer.input_fields:
            if f.name in chosen:
                continue
            for candidate in candidates_of(f):
                column = by_name.get(_norm(candidate))
                if column is not None and column not in chosen.values():
                    chosen[f.name] = column
                    break
    leftover = [c for c in columns if c not in chosen.values()]
    return chosen, leftover


# --- the import ----------------------------------------------------------------------------------


def import_file(engine: sa.Engine, layer: Layer, path: str | Path,
                options: ImportOptions | None = None) -> ImportReport:
    """Import ``path`` into ``layer``; see the module docstring. Raises HromadaError on a file it
    cannot take at all (nothing is written then); the run is recorded either way."""
    options = options or ImportOptions()
    report = ImportReport(layer=layer.name, source=Path(path).name, dry_run=options.dry_run)
    try:
        _run(engine, layer, Path(path), options, report)
    except _DryRun:
        pass
    except HromadaError as exc:
        report.run_id = None  # (a run row written with the features went with their rollback)
        _record(engine, report, options, status="failed", error=exc.to_dict())
        raise
    if report.dry_run:  # (a real import's run is written with its features, in _run)
        _record(engine, report, options, status="done")
    return report


def _run_values(report: ImportReport, options: ImportOptions, status: str, error: dict | None = None) -> dict:
    body = report.to_dict() | ({"error": error} if error else {})
    return {"layer": report.layer, "source": report.source, "dry_run": report.dry_run, "user_id": options.user_id,
            "hromada_id": options.only_hromada_id, "status": status,
            "report": json.loads(json.dumps(body, default=str))}


def _record(engine, report: ImportReport, options: ImportOptions, *, status: str, error: dict | None = None) -> None:
    with engine.begin() as conn:
        report.run_id = conn.execute(import_run.insert().values(_run_values(report, options, status, error))
                                     .returning(import_run.c.id)).scalar_one()


def recent_runs(conn: sa.Connection, hromada_id: int, limit: int = 50) -> list[dict]:
    """A hromada's imports (``import_run`` rows), newest first."""
    return [dict(r) for r in conn.execute(sa.select(import_run).where(import_run.c.hromada_id == hromada_id)
                                          .order_by(import_run.c.id.desc()).limit(limit)).mappings()]


def find_run(conn: sa.Connection, run_id: int) -> dict | None:
    """One import (its ``import_run`` row), or None."""
    row = conn.execute(sa.select(import_run).where(import_run.c.id == run_id)).mappings().first()
    return dict(row) if row else None


def run_hromada_id(conn: sa.Connection, run_id: int) -> int:
    """The id of the hromada an import was made for; NotFound when there is no such import, or it
    was made for no hromada in particular (from the command line)."""
    found = conn.execute(sa.select(import_run.c.hromada_id).where(import_run.c.id == run_id)).scalar()
    if found is None:
        raise NotFound(f"Імпорту {run_id} немає", f"There is no import {run_id}")
    return found


def _run(engine: sa.Engine, layer: Layer, path: Path, options: ImportOptions, report: ImportReport) -> None:
    if not layer.generated_table:
        raise InvalidInput(f"У шар {layer.name} не імпортують файлів", f"Layer {layer.name} does not take file imports")
    if options.upsert_key and options.upsert_key not in {f.name for f in layer.input_fields}:
        raise InvalidInput(f"--upsert-key: у шарі {layer.name} немає поля {options.upsert_key}",
                           f"--upsert-key: layer {layer.name} has no field {options.upsert_key}")
    table = build_table(layer)
    with sources.open_source(path) as src:
        source_layer = _choose_layer(src, layer, options)
        crs = options.crs or sources.source_crs(src, source_layer)
        if crs is None:
            if src.kind == "csv" or src.path.suffix.lower() in (".geojson", ".json", ".kml"):
                crs = "EPSG:4326"  # RFC 7946 GeoJSON and KML are WGS 84 by definition; CSV by default
            else:
                raise InvalidInput(f"{src.name}: у файлі не вказано систему координат (немає .prj?); вкажіть --crs",
                                   f"{src.name}: the file does not say its CRS (no .prj?); give it with --crs")
        try:
            crs_obj = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError:
            raise InvalidInput(f"Невідома система координат {crs!r}", f"Unknown CRS {crs!r}") from None
        report.crs = f"EPSG:{crs_obj.to_epsg()}" if crs_obj.to_epsg() else crs_obj.name
        # None when the file is already in WGS 84 lon/lat: nothing to transform.
        to_wgs84 = None if crs_obj.equals(pyproj.CRS("OGC:CRS84")) or crs_obj.to_epsg() == 4326 \
            else pyproj.Transformer.from_crs(crs_obj, 4326, always_xy=True)
        total = _feature_count(src, source_layer)
        show = options.progress if options.progress is not None else sys.stderr.isatty()
        # Reading starts now, in a thread: the first batch is read while the transaction sets up and
        # the hromadas' boundaries are fetched (HromadaIndex), not after.
        # The file's own WKB goes on where nothing changes the rows before _prepare (see _as_wkb).
        pass_wkb = src.kind != "osm" and options.prepare is None
        reading = _ReadAhead(sources.read_batches(src, layer=source_layer, encoding=options.encoding,
                                                  batch_size=options.batch_size, csv_columns=options.csv_columns,
                                                  keep_wkb=pass_wkb))
        with reading, engine.begin() as conn, tqdm(total=total, disable=not show, unit=" features",
                                                   desc=f"{src.name} → {layer.name}") as bar:
            compress_with_lz4(conn)  # large polygons (a forest, a zone of thousands of vertices)
            if not options.dry_run:
                # The run's row is written in the features' transaction: they commit together, and the
                # history's cause "import:<id>" (below) names a run that exists.
                report.run_id = conn.execute(import_run.insert().values(_run_values(report, options, "done"))
                                             .returning(import_run.c.id)).scalar_one()
            if layer.keeps_history:
                # The features' history names who imported and from which file, and the run (layers.history).
                named = options.user_id is not None or bool(options.author)
                history.acting(conn, options.user_id, options.author,
                               f"імпорт файлу {src.name} / import of {src.name}" if named else None,
                               cause=f"import:{report.run_id}" if report.run_id else None)
            staging_ready = False
            row_offset = 0
            implied: dict[str, object] = {}  # columns standing for values the file's name implies
            hromada_index = HromadaIndex(conn)
            # Plain imports COPY straight into the layer's table (the transaction keeps them whole);
            # an upsert goes through a staging table to be merged by key.
            direct = not options.upsert_key
            # A first large load into an empty table builds its indexes and checks its foreign keys
            # once, after the rows are in, instead of row by row (as ogr2ogr and pg_restore do).
            rebuild = _defer_indexes_and_checks(conn, table.name) if direct and (total or 0) >= BULK_LOAD_ROWS \
                and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None else []
            with contextlib.ExitStack() as copying:
                if direct and layer.keeps_history:
                    # One history row for the COPY's new features, not one each (half the import's time);
                    # entered first, so still on when the COPY ends and its trigger runs.
                    copying.enter_context(history.inserts_in_bulk(conn, layer))
                copy = None  # one COPY for the whole file, opened when the first batch shows its columns
                for batch in reading:
                    source_wkb = batch.attrs.pop(sources.SOURCE_WKB, None) if pass_wkb else None
                    if src.kind == "osm":
                        batch = osm_features(layer, batch, options.osm_filters) if layer.osm \
                            else sources.osm_filter(batch, options.osm_filters)
                    if options.prepare is not None:
                        read = len(batch)
                        batch = options.prepare(batch)
                        report.skipped += read - len(batch)
                    if not staging_ready:
                        report.field_map, report.kept_in_raw = map_columns(layer, list(batch.columns.drop("geometry")),
                                                                           options.mapping)
                        implied = _implied_by_file_name(layer, src, report)
                        staging_ready = True
                        if not direct:
                            create_staging(conn, "_import", _staging_columns(layer))
                    if implied:
                        batch = batch.assign(**implied)
                    rows = _prepare(layer, batch, row_offset, to_wgs84, report, src.name, hromada_index,
                                    options.only_hromada_id, source_wkb)
                    if direct:
                        rows = rows.drop_columns(["row_no"]).append_column(
                            "source", pa.repeat(pa.scalar(src.name), rows.num_rows))
                    if copy is None:
                        types = dict(_staging_columns(layer)) | {"source": "text"}
                        copy = copying.enter_context(BinaryCopy(conn, table.name if direct else "_import",
                                                                [(c, types[c]) for c in rows.column_names]))
                    written = copy.write(rows)
                    if direct:
                        report.inserted += written
                    row_offset += len(batch)
                    bar.update(len(batch))
            for statement in rebuild:
                conn.exec_driver_sql(statement)
            if not direct:
                if not staging_ready:
                    create_staging(conn, "_import", _staging_columns(layer))
                report.inserted, report.updated = _merge(conn, layer, table, options.upsert_key, src.name)
            if options.dry_run:
                raise _DryRun()
            conn.execute(import_run.update().where(import_run.c.id == report.run_id)
                         .values(report=_run_values(report, options, "done")["report"]))


BULK_LOAD_ROWS = 50_000


class _ReadAhead:
    """The batches, the next one read in a thread while this one is checked and sent: GDAL and
    shapely let go of the GIL, so reading costs a file's import little more than its checks. The
    first batch is read from the moment this is made. Use as a context manager: leaving it waits for
    a read under way and closes the reader."""

    def __init__(self, batches: Iterator[gpd.GeoDataFrame]):
        self._batches = batches
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read")
        self._upcoming = self._pool.submit(next, batches, None)

    def __iter__(self) -> Iterator[gpd.GeoDataFrame]:
        while (batch := self._upcoming.result()) is not None:
            self._upcoming = self._pool.submit(next, self._batches, None)
            yield batch

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *_exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()


def _defer_indexes_and_checks(conn: sa.Connection, table: str) -> list[str]:
    """Drop the table's secondary indexes and foreign keys; the statements that make them again.

    As pg_restore does: an index built once over all rows is cheaper than updated row by row, and
    a foreign key checked by one join after the load is cheaper than by a lookup per row (the
    check row by row took a third of the COPY). Locks the table until the transaction ends — only
    for a first load into an empty table.
    """
    indexes = conn.execute(sa.text("""
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = :t
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"""), {"t": table}).all()
    foreign_keys = conn.execute(sa.text("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"""), {"t": table}).all()
    for name, _ in foreign_keys:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}' for name, definition in foreign_keys]


def _implied_by_file_name(layer: Layer, src: sources.Source, report: ImportReport) -> dict[str, object]:
    """Values the file's name gives fields no column feeds (``Layer.values_from_file_name``), as
    constant columns named for the report; a value the field cannot take is ignored."""
    if layer.values_from_file_name is None:
        return {}
    columns = {}
    for name, value in layer.values_from_file_name(f"{src.name} {src.path.name}").items():
        if name in report.field_map:
            continue
        try:
            convert(layer.field(name), value)
        except BadValue:
            continue
        column = f"file name ({value})"
        report.field_map[name] = column
        columns[column] = value
    return columns


OSM_OTHER_TAGS = "osm_tags"  # the tags no field takes, kept in raw


def osm_features(layer: Layer, frame, filters: list[tuple[str, str | None]]):
    """OSM features as the layer's ``osm`` spec (layers.base.OsmSpec) maps them: those with its tag
    and matching ``--osm-tag``; one column per field the spec feeds, ``osm_id``, and ``osm_tags``
    with the other tags and any value its field cannot take (``surface=asphalt:lanes``), for raw."""
    spec = layer.osm
    fields = [layer.field(name) for name in dict.fromkeys([*spec.tags, *spec.computed, *spec.defaults])]
    tags = sources.osm_tags(frame)
    keep = [spec.picks(t) and sources.osm_matches(t, filters) for t in tags]
    kept = frame[keep]
    columns: dict[str, list] = {f.name: [] for f in fields}
    others = []
    for t in (t for t, k in zip(tags, keep, strict=True) if k):
        rest = dict(t)
        for f in fields:
            tag = next((tag for tag in spec.tags.get(f.name, ()) if str(t.get(tag) or "").strip()), None)
            value = t[tag] if tag else spec.computed[f.name](t) if f.name in spec.computed else None
            try:
                if convert(f, value) is not None and tag:
                    rest.pop(tag)
            except BadValue:
                value = None  # the tag stays in raw
            columns[f.name].append(spec.defaults.get(f.name) if value is None else value)
        others.append(rest)
    out = pd.DataFrame(columns, index=kept.index, dtype=object)
    ids = kept.get("osm_id", kept.get("osm_way_id"))
    if ids is not None and "osm_way_id" in kept:  # the multipolygons layer: ways have only osm_way_id
        ids = ids.fillna(kept["osm_way_id"])
    out["osm_id"] = ids
    out[OSM_OTHER_TAGS] = pd.Series(others, index=kept.index, dtype=object)
    geoms = np.asarray(kept.geometry.values, dtype=object)
    if layer.geometry == "Point":  # areas (a school's building, --source-layer multipolygons) as a point inside
        geoms = shapely.point_on_surface(geoms)
    return gpd.GeoDataFrame(out, geometry=geoms, crs=kept.crs)


def _choose_layer(src: sources.Source, layer: Layer, options: ImportOptions) -> str | None:
    names = sources.list_layers(src) if src.kind != "csv" else []
    if options.source_layer:
        if options.source_layer not in names:
            raise InvalidInput(f"{src.name}: немає шару {options.source_layer!r}; є: {', '.join(names)}",
                               f"{src.name}: no layer {options.source_layer!r}; there are: {', '.join(names)}")
        return options.source_layer
    if src.kind == "osm":
        return sources.OSM_LAYER_FOR[layer.geometry]
    if len(names) > 1:
        raise InvalidInput(f"{src.name}: кілька шарів ({', '.join(names)}); оберіть один: --source-layer",
                           f"{src.name}: several layers ({', '.join(names)}); choose one with --source-layer")
    return None


def _feature_count(src: sources.Source, source_layer: str | None) -> int | None:
    try:
        count = sources.pyogrio.read_info(src.path, layer=source_layer)["features"]
        return count if count >= 0 else None
    except Exception:  # only for the progress bar
        return None


def _staging_columns(layer: Layer) -> list[tuple[str, str]]:
    return ([("row_no", "int8")] + [(f.column_name, STAGING_TYPES.get(f.type, "text")) for f in layer.input_fields]
            + [("geom", f"geometry(Geometry, {STORAGE_SRID})"), ("hromada_id", "int4"), ("raw", "jsonb")])


_MULTI = {"MultiPoint": (0, shapely.multipoints), "MultiLineString": (1, shapely.multilinestrings),
          "MultiPolygon": (3, shapely.multipolygons)}


def _promote(geoms: np.ndarray, target: str) -> np.ndarray:
    """Single parts as their multi-part kind (Polygon → MultiPolygon, …) when the layer is multi-part."""
    if target not in _MULTI:
        return geoms
    single_type, make = _MULTI[target]
    single = shapely.get_type_id(geoms) == single_type
    if single.any():
        geoms[single] = make(geoms[single], indices=np.arange(int(single.sum())))
    return geoms


def _prepare(layer: Layer, batch, row_offset: int, to_wgs84: pyproj.Transformer | None, report: ImportReport,
             source_name: str, hromada_index: HromadaIndex, only_hromada_id: int | None = None,
             source_wkb: np.ndarray | None = None) -> pa.Table:
    """Check and convert one batch, column by column; returns the accepted rows as an Arrow table
    of the staging columns (geometry as WKB), and puts the rejections in the report. ``source_wkb``:
    the file's WKB of the batch's rows (sources.read_batches' ``keep_wkb``)."""
    n = len(batch)
    report.read += n
    geoms = np.asarray(batch.geometry.values, dtype=object) if "geometry" in batch else np.full(n, None)
    read = geoms.copy()  # the geometries as read; what reprojection, repair or promotion makes replaces them
    reasons = np.full(n, None, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if to_wgs84 is None:
        # Nothing to reproject: each geometry's bounds say whether all its vertices lie in Ukraine, without
        # listing the vertices (which took 33 ms per 50,000 polygons, holding Python's lock against the
        # reading thread; the bounds take 6 ms and let go of it). A point without numbers (a CSV row
        # without coordinates) has none; a vertex without a number leaves a line's or polygon's bounds as
        # they are — such a shape is invalid, and _check_geometries tells it apart.
        bounds = shapely.bounds(geoms)
        empty |= ~np.isfinite(bounds).all(axis=1)
        ok = ~empty
        if ok.any():
            x, y = bounds[ok][:, [0, 2]].ravel(), bounds[ok][:, [1, 3]].ravel()  # the corners
            check_in_ukraine(x, y, x, y, report.crs, source_name)
    else:
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        if not np.isfinite(coords).all():  # NaN coordinates (one test over all first: the usual case)
            empty[np.unique(owner[~np.isfinite(coords).all(axis=1)])] = True
        ok = ~empty
        if ok.any():
            raw_coords = coords[ok[owner]]
            geoms[ok] = shapely.transform(geoms[ok],
                                          lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))
            coords = shapely.get_coordinates(geoms[ok])
            check_in_ukraine(coords[:, 0], coords[:, 1], raw_coords[:, 0], raw_coords[:, 1], report.crs,
                             source_name)
    reasons[empty] = "empty or missing geometry"
    _check_geometries(layer, geoms, ok, reasons, report)

    columns = {"row_no": pa.array(np.arange(row_offset + 1, row_offset + n + 1))}
    for f in layer.input_fields:
        column = report.field_map.get(f.name)
        converted, errors = convert_column(f, batch[column] if column is not None else pd.Series([None] * n))
        for i, why in errors.items():
            reasons[i] = reasons[i] or f"{f.name}: {why}"
        if f.required and converted.null_count:
            for i in np.flatnonzero(converted.is_null().to_numpy(zero_copy_only=False)):
                reasons[i] = reasons[i] or f"{f.name} is required ({label(f.label, 'en')})"
        columns[f.column_name] = converted
    accepted = np.array([r is None for r in reasons], dtype=bool)
    # Each feature's hromada: the one holding a point inside the feature.
    hromadas = np.zeros(n, dtype=np.int64)
    if accepted.any():
        hromadas[accepted] = hromada_index.locate(*_inner_points(geoms[accepted]), within=geoms[accepted])
    if only_hromada_id is not None:
        elsewhere = accepted & (hromadas != only_hromada_id)
        reasons[elsewhere] = "outside your hromada (поза вашою громадою)"
        accepted &= ~elsewhere
    for i in np.flatnonzero(~accepted):
        report.reject(row_offset + int(i) + 1, reasons[i])
    report.accepted += int(accepted.sum())
    rows = pa.table(columns).filter(pa.array(accepted))
    kept, hromadas = geoms[accepted], hromadas[accepted]
    # WKB without an SRID: the column's own (4326) is given to it on the way in (gis.bulk.BinaryCopy).
    wkb = _as_wkb(_promote(kept, layer.geometry), read[accepted],
                  None if source_wkb is None else source_wkb[accepted])
    rows = rows.append_column("geom", pa.array(wkb, type=pa.binary()))
    rows = rows.append_column("hromada_id", pa.array(hromadas, mask=hromadas == 0))
    if report.kept_in_raw:
        raw = batch.loc[accepted, report.kept_in_raw].to_json(orient="records", lines=True, force_ascii=False,
                                                              date_format="iso").splitlines() if len(rows) else []
        rows = rows.append_column("raw", pa.array(raw, type=pa.string()))
    return rows  # without a "raw" column when nothing is left over: the table's default, {}, applies


def _as_wkb(geoms: np.ndarray, read: np.ndarray, read_wkb: np.ndarray | None) -> np.ndarray:
    """Each geometry's WKB: the file's own bytes (``read_wkb``) where the geometry is still the very one read
    from them (``read``: nothing reprojected, repaired or promoted it) and they are plain 2D WKB, else
    written by shapely. Writing 200,000 polygons out again took 0.25 s of their import's 3 s."""
    if read_wkb is None:
        return shapely.to_wkb(geoms)
    same = np.fromiter(map(operator.is_, geoms, read), dtype=bool, count=len(geoms)) & np.not_equal(read_wkb, None)
    if same.all():
        return read_wkb
    wkb = read_wkb.copy()
    wkb[~same] = shapely.to_wkb(geoms[~same])
    return wkb


def _inner_points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a point inside each geometry: the middle of its bounding box where that lies
    inside (cheap, and true of most shapes; a centroid costs ten times more), else shapely's
    point on the surface. NaN for a missing geometry."""
    bounds = shapely.bounds(geoms)
    x, y = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    types = shapely.get_type_id(geoms)
    areal = np.isin(types, (3, 6, 7))  # polygons, multipolygons (and collections)
    outside = areal & np.isfinite(x) & ~shapely.contains_xy(geoms, x, y)
    others = ~areal & (types > 0)  # lines and multipoints: a point on them
    redo = np.flatnonzero(outside | others)
    if len(redo):
        on_surface = shapely.point_on_surface(geoms[redo])
        x[redo], y[redo] = shapely.get_x(on_surface), shapely.get_y(on_surface)
    return x, y


_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}
_TYPE_NAMES = {v: k for k, v in _TYPE_IDS.items()} | {7: "GeometryCollection"}


def _check_geometries(layer: Layer, geoms: np.ndarray, ok: np.ndarray, reasons: np.ndarray,
                      report: ImportReport) -> None:
    """Types the layer takes, validity (polygons are repaired), in bulk; per feature only for the odd ones."""
    types = shapely.get_type_id(geoms)
    type_ok = np.isin(types, [_TYPE_IDS[t] for t in ACCEPTED_TYPES[layer.geometry]])
    if layer.geometry == "Point":  # a MultiPoint of one point is that point
        single = ok & (types == 4) & (shapely.get_num_geometries(geoms) == 1)
        geoms[single] = shapely.get_geometry(geoms[single], 0)
        type_ok |= single
    invalid = ok & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):  # a vertex without a number is no geometry, not one to repair
        if not np.isfinite(shapely.get_coordinates(geoms[i])).all():
            reasons[i], invalid[i] = "empty or missing geometry", False
    if layer.geometry in ("Polygon", "MultiPolygon"):
        for i in np.flatnonzero(invalid):
            try:
                geoms[i] = to_multipolygon(geoms[i]).geometry
                report.repaired += 1
                type_ok[i] = True
            except HromadaError as exc:
                reasons[i] = exc.en
        invalid[:] = False
    for i in np.flatnonzero(ok & ~type_ok & (reasons == None)):  # noqa: E711 (elementwise)
        reasons[i] = f"geometry is a {_TYPE_NAMES.get(int(types[i]), '?')}; layer {layer.name} takes {layer.geometry}"
    for i in np.flatnonzero(invalid & type_ok):
        reasons[i] = f"invalid geometry: {shapely.is_valid_reason(geoms[i])}"


def _merge(conn: sa.Connection, layer: Layer, table: sa.Table, upsert_key: str | None, source: str) -> tuple[int, int]:
    """Staging → the layer's table, hromada by containment; update rows whose key is known."""
    cols = [f'"{f.column_name}"' for f in layer.input_fields]
    geom = "ST_Multi(s.geom)" if layer.geometry.startswith("Multi") else "s.geom"
    hromada = "s.hromada_id"  # found in bulk before the COPY (gis.hromada_index)
    params = {"source": source}
    updated = 0
    where_new = ""
    if upsert_key:
        key = f'"{layer.field(upsert_key).column_name}"'
        duplicates = conn.execute(
            sa.text(f"SELECT {key} FROM _import GROUP BY {key} HAVING count(*) > 1 LIMIT 5")).all()
        if duplicates:
            raise InvalidInput(f"--upsert-key {upsert_key}: у файлі повторюються значення {[d[0] for d in duplicates]}",
                               f"--upsert-key {upsert_key}: the file repeats the values {[d[0] for d in duplicates]}")
        updated = conn.execute(sa.text(f"""
            UPDATE {table.name} t SET {', '.join(f'{c} = s.{c}' for c in cols)}, geom = {geom},
                   raw = COALESCE(s.raw, '{{}}'::jsonb), source = :source, imported_at = now(), hromada_id = {hromada}
            FROM _import s WHERE t.{key} = s.{key}"""), params).rowcount
        where_new = f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} t WHERE t.{key} = s.{key})"
    # The new features: one history row for them all (the updates above each keep their previous version).
    with history.inserts_in_bulk(conn, layer) if layer.keeps_history else contextlib.nullcontext():
        inserted = conn.execute(sa.text(f"""
            INSERT INTO {table.name} ({', '.join(cols)}, geom, raw, source, hromada_id)
            SELECT {', '.join('s.' + c for c in cols)}, {geom}, COALESCE(s.raw, '{{}}'::jsonb), :source, {hromada}
            FROM _import s {where_new} ORDER BY s.row_no"""), params).rowcount
    return inserted, updated
