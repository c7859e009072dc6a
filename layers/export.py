"""Open-data exports of a layer: GeoJSON, GeoPackage, CSV, and a metadata sidecar.

Public fields only — staff-only and personal data never leave. Rows are read with a server-side
cursor in batches, so a large layer never has to fit in memory: GeoJSON and CSV are produced as a
stream of text chunks; a GeoPackage (a SQLite file, which cannot be streamed as it is built) is
written batch by batch into a temporary file that is then streamed and removed.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator

import geopandas as gpd
import pyogrio
import shapely
import sqlalchemy as sa

from gis import tabular
from gis.jsonvalues import jsonable
from layers.base import Layer, label
from layers.query import COORD_DECIMALS, feature_select, geojson_geometry, table_of, visible_rows

FORMATS = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3", "csv": "text/csv"}
BATCH = 5000


def headings(layer: Layer, lang: str | None) -> dict[str, str]:
    """Column name per public field: the field name, or its label in ``lang`` (uk/en) when asked."""
    return {f.name: (label(f.label, lang) if lang else f.name) for f in layer.public_fields}


def _rows(engine: sa.Engine, layer: Layer, geometry) -> Iterator[sa.RowMapping]:
    """Every public row of the layer, streamed (query.feature_select: open data is public rows)."""
    query, _ = feature_select(layer, geometry=geometry)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        yield from result.mappings()


def geojson_chunks(engine: sa.Engine, layer: Layer, lang: str | None = None) -> Iterator[str]:
    names = headings(layer, lang)
    head = {"type": "FeatureCollection", "name": layer.name,
            **({"attribution": layer.attribution} if layer.attribution else {})}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n'
    first = True
    for row in _rows(engine, layer, geojson_geometry):
        feature = {"type": "Feature", "id": row["_id"],
                   "geometry": json.loads(row["_geometry"]) if row["_geometry"] else None,
                   "properties": {names[k]: jsonable(row[k]) for k in names}}
        yield ("" if first else ",\n") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "\n]}\n"


def csv_chunks(engine: sa.Engine, layer: Layer, lang: str | None = None) -> Iterator[str]:
    """CSV with the geometry as WKT in a ``wkt`` column (importable as it is)."""
    names = headings(layer, lang)
    rows = _rows(engine, layer, lambda g: sa.func.ST_AsText(g, COORD_DECIMALS))
    yield from tabular.csv_chunks(["id", *names.values(), "wkt"],
                                  ([row["_id"], *(row[k] for k in names), row["_geometry"]] for row in rows),
                                  batch=BATCH)


def write_gpkg(engine: sa.Engine, layer: Layer, path: str, lang: str | None = None) -> int:
    """Write the layer into a GeoPackage at ``path`` batch by batch; the number of features."""
    names = headings(layer, lang)
    batch, count, first = [], 0, True

    def flush():
        nonlocal first
        frame = gpd.GeoDataFrame(
            [{"id": r["_id"], **{names[k]: jsonable(r[k]) for k in names}} for r in batch],
            geometry=shapely.from_wkb([bytes(r["_geometry"]) if r["_geometry"] is not None else None for r in batch]),
            crs="EPSG:4326")
        pyogrio.write_dataframe(frame, path, layer=layer.name, driver="GPKG", append=not first,
                                promote_to_multi=layer.geometry.startswith("Multi"))
        first = False

    for row in _rows(engine, layer, sa.func.ST_AsBinary):
        batch.append(row)
        count += 1
        if len(batch) >= BATCH:
            flush()
            batch = []
    if batch or first:
        if batch:
            flush()
        else:  # an empty layer still gives a valid, empty GeoPackage
            gpd.GeoDataFrame({"id": [], **{v: [] for v in names.values()}}, geometry=[], crs="EPSG:4326") \
                .to_file(path, layer=layer.name, driver="GPKG", engine="pyogrio")
    return count


def gpkg_chunks(engine: sa.Engine, layer: Layer, lang: str | None = None) -> Iterator[bytes]:
    fd, path = tempfile.mkstemp(prefix=f"hromada-{layer.name}-", suffix=".gpkg")
    os.close(fd)
    os.unlink(path)  # GDAL creates it
    try:
        write_gpkg(engine, layer, path, lang)
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                yield chunk
    finally:
        if os.path.exists(path):
            os.unlink(path)


def metadata(engine: sa.Engine, layer: Layer, base_url: str = "") -> dict:
    """The sidecar describing the data set, with the fields the national open-data portal asks for."""
    table = table_of(layer)
    updated_column = next((c for c in ("imported_at", "updated_at", "created_at") if c in table.c), None)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)
                             .where(visible_rows(layer, table))).scalar_one()
        updated = conn.execute(sa.select(sa.func.max(table.c[updated_column]))).scalar() if updated_column else None
    return {
        "title": dict(layer.title),
        "description": dict(layer.description) or dict(layer.title),
        "identifier": layer.name,
        "license": layer.licence or "CC BY 4.0",
        "source": layer.source or layer.attribution or "Hromada GIS",
        "attribution": layer.attribution,
        "modified": (updated or dt.datetime.now(dt.timezone.utc)).isoformat(),
        "crs": "EPSG:4326",
        "geometry_type": layer.geometry,
        "feature_count": count,
        "fields": [{"name": f.name, "type": f.type, "title": dict(f.label),
                    **({"choices": {k: dict(v) for k, v in f.choices.items()}} if f.choices else {})}
                   for f in layer.public_fields],
        "distributions": {fmt: f"{base_url}/api/layers/{layer.name}/export.{fmt}" for fmt in FORMATS},
        "demo_data": layer.is_demo,
    }
