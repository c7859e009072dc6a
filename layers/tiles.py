"""Mapbox vector tiles of any declared layer, built in PostGIS (ST_TileEnvelope, ST_AsMVTGeom, ST_AsMVT).

Public fields only, always: tiles are made to be cached by proxies and CDNs, so they never depend
on who asks. Each tile holds at most MAX_FEATURES features; at low zooms the points of a layer are
clustered on a grid (each cluster carries ``point_count``) so a tile of a million-point layer stays
small, and lines and polygons are simplified to the tile's pixel size.
"""
from __future__ import annotations

import functools
import re

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from layers.base import Layer
from layers.query import table_of, visible_rows_sql

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
MAX_FEATURES = 10_000
CLUSTER_BELOW_ZOOM = 12  # point layers are clustered at zooms below this
CLUSTER_CELLS = 8  # clusters per tile side: one every 32 px keeps low-zoom tiles small (a density view)


def tile_exists(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"Масштаб z={z} має бути від 0 до {MAX_ZOOM}", f"Zoom z={z} must be 0…{MAX_ZOOM}")
    side = 2 ** z
    if not (0 <= x < side and 0 <= y < side):
        raise NotFound(f"Тайла {z}/{x}/{y} не існує", f"Tile {z}/{x}/{y} does not exist")


def clustered(layer: Layer, z: int) -> bool:
    """Whether ``layer``'s tiles at zoom ``z`` hold clusters rather than features: points below
    CLUSTER_BELOW_ZOOM, small polygons below their ``Layer.tiles_as_points_below``."""
    if layer.geometry in ("Point", "MultiPoint"):
        return z < CLUSTER_BELOW_ZOOM
    return layer.tiles_as_points_below is not None and z < layer.tiles_as_points_below


def tile_sql(layer: Layer, z: int) -> str:
    """The SQL of one tile of ``layer`` at zoom ``z`` (parameters :z, :x, :y, :cap, :name)."""
    return _tile_sql(layer, clustered(layer, z))


def _tile_sql(layer: Layer, clusters: bool) -> str:
    table = table_of(layer)
    geom = f't."{layer.geometry_column}"'
    fields = layer.public_fields
    # Tiles are shared through caches: public rows only (never a draft plan's zones).
    public = f" AND {visible_rows_sql(layer, 't')}"
    points = layer.geometry in ("Point", "MultiPoint")
    if clusters:
        # One cluster per grid cell: its centre, how many points, and the first feature's id (a
        # polygon counts by a point on its surface).
        point = geom if points else f"ST_PointOnSurface({geom})"
        return f"""
        WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
        cells AS (
            SELECT ST_SnapToGrid(ST_Transform({point}, 3857),
                                 (ST_XMax(bounds.env) - ST_XMin(bounds.env)) / {CLUSTER_CELLS}) AS cell,
                   min(t."{layer.id_column}") AS id, count(*) AS point_count
            FROM "{table.name}" t, bounds
            WHERE {geom} && ST_Transform(bounds.env, 4326){public}
            GROUP BY 1 LIMIT :cap),
        mvt AS (SELECT ST_AsMVTGeom(cell, bounds.env, {EXTENT}, {BUFFER}, true) AS geom, id, point_count
                FROM cells, bounds)
        SELECT ST_AsMVT(mvt.*, :name, {EXTENT}, 'geom', 'id') FROM mvt WHERE geom IS NOT NULL"""
    columns = ", ".join(f't."{f.column_name}" AS "{f.name}"' for f in fields)
    # Lines and polygons: simplified to about a pixel of this zoom before clipping.
    pixel = f"(ST_XMax(bounds.env) - ST_XMin(bounds.env)) / {EXTENT}"
    shape = f"ST_Transform({geom}, 3857)" if points else f"ST_Simplify(ST_Transform({geom}, 3857), {pixel})"
    return f"""
    WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
    mvt AS (
        SELECT ST_AsMVTGeom({shape}, bounds.env, {EXTENT}, {BUFFER}, true) AS geom,
               t."{layer.id_column}" AS id{', ' + columns if columns else ''}
        FROM "{table.name}" t, bounds
        WHERE {geom} && ST_Transform(bounds.env, 4326){public}
        ORDER BY t."{layer.id_column}" LIMIT :cap)
    SELECT ST_AsMVT(mvt.*, :name, {EXTENT}, 'geom', 'id') FROM mvt WHERE geom IS NOT NULL"""


@functools.lru_cache(maxsize=None)
def driver_sql(layer_name: str, clusters: bool) -> str:
    """``tile_sql`` with psycopg's ``%(name)s`` placeholders, for the fast path that skips SQLAlchemy.

    Run with :func:`driver_params`. One string per layer and kind, so psycopg prepares it once per
    connection (after a few runs) and PostgreSQL does not plan it again.
    """
    from layers.registry import get_layer

    sql = _tile_sql(get_layer(layer_name), clusters).replace("%", "%%")
    return re.sub(r":(z|x|y|cap|name)\b", r"%(\1)s", sql)


def driver_params(layer: Layer, z: int, x: int, y: int) -> tuple[str, dict]:
    """The fast path's SQL of one tile and its parameters."""
    return driver_sql(layer.name, clustered(layer, z)), {"z": z, "x": x, "y": y, "cap": MAX_FEATURES,
                                                         "name": layer.name}


def driver_tile(driver_conn, layer: Layer, z: int, x: int, y: int) -> bytes:
    """The tile's bytes (empty when no feature reaches it), read on a psycopg connection (the fast
    path's, without SQLAlchemy) with :func:`driver_params`."""
    row = driver_conn.execute(*driver_params(layer, z, x, y)).fetchone()
    return bytes(row[0] or b"")


def tile(conn: sa.Connection, layer: Layer, z: int, x: int, y: int) -> bytes:
    """The tile's bytes (empty when no feature reaches it)."""
    check_tile(z, x, y)
    data = conn.execute(sa.text(tile_sql(layer, z)),
                        {"z": z, "x": x, "y": y, "cap": MAX_FEATURES, "name": layer.name}).scalar()
    return bytes(data or b"")


def tilejson(conn: sa.Connection, layer: Layer, url_template: str) -> dict:
    """TileJSON 3.0.0 describing the layer's tiles."""
    table = table_of(layer)
    extent = conn.execute(sa.text(
        f'SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM '
        f'(SELECT ST_Extent("{layer.geometry_column}") AS e FROM "{table.name}") s')).one()
    types = {"integer": "Number", "number": "Number", "money": "Number", "boolean": "Boolean"}
    return {
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": layer.title.get("uk"),
        "tiles": [url_template],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": list(extent) if extent[0] is not None else [-180, -85.0511, 180, 85.0511],
        "attribution": layer.attribution,
        "vector_layers": [{"id": layer.name, "fields": {f.name: types.get(f.type, "String")
                                                          for f in layer.public_fields}}],
    }
