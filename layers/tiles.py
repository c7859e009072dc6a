"""Mapbox vector tiles of any declared layer, built in PostGIS (ST_TileEnvelope, ST_AsMVTGeom, ST_AsMVT).

Public fields only, always: tiles are made to be cached by proxies and CDNs, so they never depend
on who asks. Each tile holds at most MAX_FEATURES features; at low zooms the points of a layer are
clustered on a grid (each cluster carries ``point_count``) so a tile of a million-point layer stays
small, and lines and polygons are simplified to the tile's pixel size.

Clusters of a public layer are not counted from its features when a tile is asked for: the database
keeps them per zoom and grid cell in ``tile_cell`` (layers.tile_cells), so a z8 tile reads its few
dozen cells however many features lie under it. This module says which zooms are clustered and where
a cell is (:func:`cell_size_sql`, :func:`point_sql`); layers.tile_cells keeps the cells in step.
"""
from __future__ import annotations

import functools
import re

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from layers.base import PUBLIC, Layer
from layers.query import table_of, visible_rows_sql

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
MAX_FEATURES = 10_000
CLUSTER_BELOW_ZOOM = 12  # point layers are clustered at zooms below this
CLUSTER_CELLS = 8  # clusters per tile side: one every 32 px keeps low-zoom tiles small (a density view)
HALF_WORLD = 20037508.342789244  # EPSG:3857's half width, as ST_TileEnvelope's default bounds


def tile_exists(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"Масштаб z={z} має бути від 0 до {MAX_ZOOM}", f"Zoom z={z} must be 0…{MAX_ZOOM}")
    side = 2 ** z
    if not (0 <= x < side and 0 <= y < side):
        raise NotFound(f"Тайла {z}/{x}/{y} не існує", f"Tile {z}/{x}/{y} does not exist")


def cluster_below(layer: Layer) -> int | None:
    """The zoom below which ``layer``'s tiles hold clusters rather than features (None: never):
    CLUSTER_BELOW_ZOOM for points, ``Layer.tiles_as_points_below`` for lines and polygons."""
    if layer.geometry in ("Point", "MultiPoint"):
        return CLUSTER_BELOW_ZOOM
    return layer.tiles_as_points_below


def clustered(layer: Layer, z: int) -> bool:
    """Whether ``layer``'s tiles at zoom ``z`` hold clusters rather than features."""
    below = cluster_below(layer)
    return below is not None and z < below


def has_cells(layer: Layer) -> bool:
    """Whether the database keeps ``layer``'s clusters in ``tile_cell`` (layers.tile_cells): every
    clustered layer anyone may see — tiles are served of those only; any other is counted live."""
    return layer.permissions.view == PUBLIC and cluster_below(layer) is not None


def cell_size_sql(zoom: str) -> str:
    """SQL: the side of a cluster cell at zoom ``zoom`` (an SQL expression), in EPSG:3857 metres — a
    tile's width over CLUSTER_CELLS. The same expression for counting and for reading, so a cell's
    index is the same wherever it is computed."""
    return f"(2 * {HALF_WORLD!r}::float8 / ({CLUSTER_CELLS} << ({zoom})))"


def point_sql(layer: Layer, alias: str) -> str:
    """SQL: the point a feature of ``layer`` (table alias ``alias``) counts by in a cluster, in
    EPSG:3857: a point itself, a line or polygon by a point on it."""
    geom = f'{alias}."{layer.geometry_column}"'
    point = geom if layer.geometry == "Point" else f"ST_PointOnSurface({geom})"
    return f"ST_Transform({point}, 3857)"


def tile_sql(layer: Layer, z: int) -> str:
    """The SQL of one tile of ``layer`` at zoom ``z`` (parameters :z, :x, :y, :cap, :name)."""
    return _tile_sql(layer, clustered(layer, z))


def _cells_sql() -> str:
    """A clustered tile read from ``tile_cell``: the cells whose centre lies in the tile, edges
    included (a cell centred on the edge between two tiles is in both, with its whole count). At
    zoom z, tile x spans cell columns CLUSTER_CELLS·x − (CLUSTER_CELLS/2)·2^z … +CLUSTER_CELLS, and
    tile y (counted from the north) the rows (CLUSTER_CELLS/2)·2^z − CLUSTER_CELLS·(y + 1) … +CLUSTER_CELLS.

    The nine columns are read one by one, each a short range of the primary key (layer, z, cx, cy):
    with BETWEEN on cx the index would walk every cell of those columns from the country's south to
    its north to keep the few in the tile — at z12 on a national data set ≈ 10,000 entries for a tile
    of 81 cells. A column is a LATERAL subquery kept apart by OFFSET 0, so that the prepared
    statement's generic plan cannot choose otherwise: with the columns as an IN list, on a database of
    a few hromadas it read the whole zoom's cells with the columns as a filter (z12 parcels of ten
    hromadas: 1.8 ms instead of 0.45).

    A cell's centre is placed straight in the tile's own coordinates — whole numbers, (column − the
    tile's first column) · EXTENT / CLUSTER_CELLS across and likewise down from the tile's top —
    which is what ST_AsMVTGeom would make of it, without projecting and clipping each point."""
    cells, half, step = CLUSTER_CELLS, CLUSTER_CELLS // 2, EXTENT // CLUSTER_CELLS
    first_column = f"({cells} * :x - ({half} << :z))"
    first_row = f"(({half} << :z) - {cells} * (:y + 1))"
    columns = ", ".join(f"({i})" for i in range(cells + 1))
    return f"""
    WITH mvt AS (
        SELECT ST_MakePoint((c.cx - {first_column}) * {step}, {EXTENT} - (c.cy - {first_row}) * {step}) AS geom,
               c.feature_id AS id, c.point_count
        FROM (VALUES {columns}) AS column_of_tile(i)
        CROSS JOIN LATERAL (
            SELECT cx, cy, feature_id, point_count FROM tile_cell
            WHERE layer = :name AND z = :z AND cx = {first_column} + column_of_tile.i
              AND cy BETWEEN {first_row} AND {first_row} + {cells}
            OFFSET 0) c
        LIMIT :cap)
    SELECT ST_AsMVT(mvt.*, :name, {EXTENT}, 'geom', 'id') FROM mvt"""


def _tile_sql(layer: Layer, clusters: bool) -> str:
    if clusters and has_cells(layer):
        return _cells_sql()
    table = table_of(layer)
    geom = f't."{layer.geometry_column}"'
    fields = layer.public_fields
    # Tiles are shared through caches: public rows only (never a draft plan's zones).
    public = f" AND {visible_rows_sql(layer, 't')}"
    points = layer.geometry in ("Point", "MultiPoint")
    if clusters:
        # Counted live (a layer without kept cells): one cluster per grid cell — its centre, how many
        # points of the tile, and the first feature's id — as layers.tile_cells counts them.
        return f"""
        WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
        cells AS (
            SELECT ST_SnapToGrid({point_sql(layer, 't')}, {cell_size_sql(':z')}) AS cell,
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
