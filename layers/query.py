"""Reading any declared layer as GeoJSON (RFC 7946), with only the fields the reader may see.

Plain values in, plain values out: the web API, the map and the CLI all call these functions.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gis import geojson
from gis.errors import InvalidInput
from gis.jsonvalues import jsonable
from gis.models import metadata
from layers.base import Layer

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
COORD_DECIMALS = 7  # ~1 cm, more than any source we hold


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` in WGS 84 → a tuple; None when absent."""
    if text is None or text.strip() == "":
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            f"bbox {text!r}: потрібно чотири числа через кому: мін_довгота,мін_широта,макс_довгота,макс_широта",
            f"bbox {text!r}: expected four comma-separated numbers: minLon,minLat,maxLon,maxLat",
        )
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidInput(
            f"bbox {text!r}: довгота має бути в межах −180…180, широта — −90…90 (чи не переплутано порядок?)",
            f"bbox {text!r}: longitude must be within −180…180 and latitude within −90…90 (swapped order?)",
        )
    if minx > maxx or miny > maxy:
        raise InvalidInput(
            f"bbox {text!r}: мінімум більший за максимум",
            f"bbox {text!r}: a minimum is greater than its maximum",
        )
    return values


def parse_page(limit: str | None, offset: str | None) -> Page:
    def number(name: str, text: str | None, default: int, low: int, high: int | None) -> int:
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"{low}…{high}" if high is not None else f"≥ {low}"
            raise InvalidInput(f"{name}={text!r}: має бути ціле число {bound}",
                               f"{name}={text!r}: must be a whole number {bound}")
        return value

    return Page(number("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT), number("offset", offset, 0, 0, None))


def table_of(layer: Layer) -> sa.Table:
    return metadata.tables[layer.table]


def visible_rows(layer: Layer, table: sa.Table, roles=frozenset()) -> sa.ColumnElement:
    """The rows ``roles`` may see: all, or only the public ones (``Layer.public_rows``)."""
    if layer.public_rows is None or layer.permissions.sees_all_rows(roles):
        return sa.true()
    return table.c[layer.public_rows].is_(True)


def geometry_out(geom, out_srid: int | None):
    """The geometry column in the CRS asked for: None is CRS84 (longitude first, as stored);
    EPSG:4326 is latitude first; any other SRID is transformed to."""
    if out_srid is None:
        return geom
    if out_srid == 4326:
        return sa.func.ST_FlipCoordinates(geom)
    return sa.func.ST_Transform(geom, out_srid)


def as_feature(row, fields) -> dict:
    """A row of read_features' select as a GeoJSON feature."""
    return geojson.feature(row["_id"], json.loads(row["_geometry"]) if row["_geometry"] else None,
                           {f.name: jsonable(row[f.name]) for f in fields})


def visible_rows_sql(layer: Layer, alias: str) -> str:
    """``visible_rows`` for the public, as SQL on a table alias, for hand-written SQL (the tiles)."""
    table = table_of(layer).alias(alias)
    return str(visible_rows(layer, table).compile(dialect=postgresql.dialect(),
                                                  compile_kwargs={"literal_binds": True}))


def geojson_geometry(geom):
    return sa.func.ST_AsGeoJSON(geom, COORD_DECIMALS)


def feature_select(layer: Layer, *, staff: bool = False, roles=frozenset(), conditions=(),
                   geometry=geojson_geometry, extra_columns=()) -> tuple[sa.Select, sa.ColumnElement]:
    """The SELECT every feature reader runs (the APIs, the map, the exports): ``_id``, ``_geometry``
    (``geometry(column)``, GeoJSON by default) and the visible fields by name, of the visible rows
    matching ``conditions``, ordered by id so paging is stable; and its WHERE, for counting.

    Only public fields unless ``staff``, only public rows unless ``roles`` may see all
    (``Layer.public_rows``)."""
    table = table_of(layer)
    where = sa.and_(visible_rows(layer, table, roles), *conditions)
    select = sa.select(
        table.c[layer.id_column].label("_id"), geometry(table.c[layer.geometry_column]).label("_geometry"),
        *[table.c[f.column_name].label(f.name) for f in layer.visible_fields(staff)], *extra_columns,
    ).where(where).order_by(table.c[layer.id_column])
    return select, where


def read_features(conn: sa.Connection, layer: Layer, *, conditions=(), page: Page = Page(), staff: bool = False,
                  roles=frozenset(), out_srid: int | None = None, extra_columns=(),
                  simplify: float | None = None) -> tuple[list[dict], int, list]:
    """The one feature reader (the layer API, OGC API, the map): the page of features matching
    ``conditions`` (SQLAlchemy conditions on the layer's table), how many match in all, and the raw
    rows (for ``extra_columns`` such as a version). Geometries in ``out_srid`` (geometry_out),
    lines and polygons simplified to ``simplify`` degrees when given (the map: about a pixel)."""
    def shape(geom):
        if simplify and layer.geometry not in ("Point", "MultiPoint"):
            geom = sa.func.ST_SimplifyPreserveTopology(geom, simplify)
        return geojson_geometry(geometry_out(geom, out_srid))

    select, where = feature_select(layer, staff=staff, roles=roles, conditions=conditions, geometry=shape,
                                   extra_columns=extra_columns)
    matched = conn.execute(sa.select(sa.func.count()).select_from(table_of(layer)).where(where)).scalar_one()
    rows = conn.execute(select.limit(page.limit).offset(page.offset)).mappings().all()
    fields = layer.visible_fields(staff)
    return [as_feature(row, fields) for row in rows], matched, rows


def read_feature(conn: sa.Connection, layer: Layer, feature_id: int, *, staff: bool = False, roles=frozenset(),
                 out_srid: int | None = None, extra_columns=()) -> tuple[dict, dict] | tuple[None, None]:
    """One feature by id and its raw row (read_features); (None, None) when there is none to see."""
    table = table_of(layer)
    items, _, rows = read_features(conn, layer, conditions=[table.c[layer.id_column] == feature_id], staff=staff,
                                   roles=roles, out_srid=out_srid, extra_columns=extra_columns)
    return (items[0], rows[0]) if items else (None, None)


def features(conn: sa.Connection, layer: Layer, *, bbox=None, page: Page = Page(),
             hromada_id: int | None = None, feature_id: int | None = None,
             staff: bool = False, roles=frozenset(), simplify: float | None = None) -> tuple[list[dict], int]:
    """The page of features (GeoJSON dicts) in a WGS 84 ``bbox``, a hromada or by id, and how many
    match in all (read_features; ``simplify`` as there)."""
    table = table_of(layer)
    conditions = []
    if bbox is not None:
        conditions.append(sa.func.ST_Intersects(table.c[layer.geometry_column], sa.func.ST_MakeEnvelope(*bbox, 4326)))
    if hromada_id is not None and layer.hromada_column:
        conditions.append(table.c[layer.hromada_column] == hromada_id)
    if feature_id is not None:
        conditions.append(table.c[layer.id_column] == feature_id)
    items, matched, _ = read_features(conn, layer, conditions=conditions, page=page, staff=staff, roles=roles,
                                      simplify=simplify)
    return items, matched


def _in_view(layer: Layer, table: sa.Table, bbox, hromada_id: int | None, roles) -> list[sa.ColumnElement]:
    where = [visible_rows(layer, table, roles),
             sa.func.ST_Intersects(table.c[layer.geometry_column], sa.func.ST_MakeEnvelope(*bbox, 4326))]
    if hromada_id is not None and layer.hromada_column:
        where.append(table.c[layer.hromada_column] == hromada_id)
    return where


def more_in_view_than(conn: sa.Connection, layer: Layer, threshold: int, *, bbox, hromada_id: int | None = None,
                      roles=frozenset()) -> bool:
    """Whether the ``bbox`` holds more than ``threshold`` features the ``roles`` may see (counted no further)."""
    table = table_of(layer)
    limited = sa.select(sa.literal(1)).select_from(table).where(
        *_in_view(layer, table, bbox, hromada_id, roles)).limit(threshold + 1).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one() > threshold


def clusters(conn: sa.Connection, layer: Layer, *, bbox, cell_degrees: float, hromada_id: int | None = None,
             roles=frozenset()) -> list[dict]:
    """The features in a WGS 84 ``bbox`` gathered on a grid of ``cell_degrees``: one ``{lon, lat,
    count}`` per occupied cell, at the mean of its features (a line or polygon counts by a point on
    it). A map view with more features than it can draw shows these, so its size is bounded by the
    view, not by the layer."""
    table = table_of(layer)
    geom = table.c[layer.geometry_column]
    point = geom if layer.geometry in ("Point", "MultiPoint") else sa.func.ST_PointOnSurface(geom)
    cell = sa.func.ST_SnapToGrid(point, cell_degrees).label("cell")
    where = _in_view(layer, table, bbox, hromada_id, roles)
    grouped = (sa.select(cell, sa.func.ST_Centroid(sa.func.ST_Collect(point)).label("centre"),
                         sa.func.count().label("count"))
               .where(*where).group_by(sa.literal_column("cell")).subquery())
    rows = conn.execute(sa.select(sa.func.ST_X(grouped.c.centre), sa.func.ST_Y(grouped.c.centre), grouped.c.count)
                        .order_by(grouped.c.count.desc())).all()
    return [{"lon": round(lon, 6), "lat": round(lat, 6), "count": count} for lon, lat, count in rows]


def has_more_than(conn: sa.Connection, layer: Layer, threshold: int) -> bool:
    """Whether the layer holds more than ``threshold`` features (counted no further than that)."""
    table = table_of(layer)
    return conn.execute(sa.select(sa.func.count()).select_from(
        sa.select(sa.literal(1)).select_from(table).limit(threshold + 1).subquery())).scalar_one() > threshold


def count_features(conn: sa.Connection, layer: Layer, *, hromada_id: int | None = None, roles=frozenset()) -> int:
    """How many features of ``layer`` the ``roles`` may see, in the hromada when given."""
    table = table_of(layer)
    where = visible_rows(layer, table, roles)
    if hromada_id is not None and layer.hromada_column:
        where = sa.and_(where, table.c[layer.hromada_column] == hromada_id)
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()


def feature_near(conn: sa.Connection, layer: Layer, lon: float, lat: float, within_degrees: float) -> int | None:
    """The id of the public feature of ``layer`` nearest to (lon, lat) within ``within_degrees`` (a
    click on a vector tile: a few pixels of the zoom), or None."""
    table = table_of(layer)
    geom = table.c[layer.geometry_column]
    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
    return conn.execute(sa.select(table.c[layer.id_column])
                        .where(visible_rows(layer, table), sa.func.ST_DWithin(geom, point, within_degrees))
                        .order_by(geom.op("<->")(point)).limit(1)).scalar()


def has_demo_rows(conn: sa.Connection, layers, hromada_id: int) -> bool:
    """Whether any of ``layers`` holds generated demo features (an ``is_demo`` field) in the hromada."""
    for layer in layers:
        if not any(f.name == "is_demo" for f in layer.fields):
            continue
        table = table_of(layer)
        where = table.c[layer.field("is_demo").column_name].is_(True)
        if layer.hromada_column:
            where = sa.and_(where, table.c[layer.hromada_column] == hromada_id)
        if conn.execute(sa.select(sa.exists().where(where))).scalar_one():
            return True
    return False


def feature_collection(conn: sa.Connection, layer: Layer, **kwargs) -> dict:
    items, matched = features(conn, layer, **kwargs)
    return geojson.collection(items, numberMatched=matched, numberReturned=len(items))


def layer_extent(conn: sa.Connection, layer: Layer) -> tuple[float | None, ...]:
    """(minx, miny, maxx, maxy) of every feature of ``layer``; four Nones when it has none."""
    table = table_of(layer)
    extent = sa.select(sa.func.ST_Extent(table.c[layer.geometry_column]).label("e")).subquery()
    return tuple(conn.execute(sa.select(sa.func.ST_XMin(extent.c.e), sa.func.ST_YMin(extent.c.e),
                                        sa.func.ST_XMax(extent.c.e), sa.func.ST_YMax(extent.c.e))).one())


def feature_hromada_id(conn: sa.Connection, layer: Layer, feature_id: int) -> int | None:
    """The hromada a feature belongs to; None when the layer is not kept per hromada or there is no
    such feature."""
    if not layer.hromada_column:
        return None
    table = table_of(layer)
    return conn.execute(sa.select(table.c[layer.hromada_column])
                        .where(table.c[layer.id_column] == feature_id)).scalar()
