"""Reading any declared layer as GeoJSON (RFC 7946), with only the fields the reader may see.

Plain values in, plain values out: the web API, the map and the CLI all call these functions.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from gis import direct_sql, geojson
from gis.errors import InvalidInput
from gis.jsonvalues import RawJSON, jsonable
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


def sees_all_rows(layer: Layer, roles=frozenset()) -> bool:
    """Whether ``roles`` may see every row of the layer, or only the public ones (``Layer.public_rows``)."""
    return layer.public_rows is None or layer.permissions.sees_all_rows(roles)


def visible_rows(layer: Layer, table: sa.Table, roles=frozenset(), *, all_rows: bool | None = None) -> sa.ColumnElement:
    """The rows ``roles`` may see (or every row when ``all_rows``): all, or only the public ones."""
    if sees_all_rows(layer, roles) if all_rows is None else (all_rows or layer.public_rows is None):
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


def visible_rows_sql(layer: Layer, alias: str) -> str:
    """``visible_rows`` for the public, as SQL on a table alias, for hand-written SQL (the tiles and
    their cells' triggers). From the declaration alone: a layer's cells are kept in step before its
    table is in the metadata, and the triggers' transition tables are no table at all."""
    columns = [sa.column(layer.public_rows)] if layer.public_rows else []
    table = sa.table(layer.table, *columns).alias(alias)
    return str(visible_rows(layer, table).compile(dialect=postgresql.dialect(),
                                                  compile_kwargs={"literal_binds": True}))


def geojson_geometry(geom):
    return sa.func.ST_AsGeoJSON(geom, COORD_DECIMALS)


def feature_select(layer: Layer, *, staff: bool = False, roles=frozenset(), conditions=(),
                   geometry=geojson_geometry, extra_columns=(),
                   all_rows: bool | None = None) -> tuple[sa.Select, sa.ColumnElement]:
    """The SELECT every feature reader runs (the APIs, the map, the exports): ``_id``, ``_geometry``
    (``geometry(column)``, GeoJSON by default) and the visible fields by name, of the visible rows
    matching ``conditions``, ordered by id so paging is stable; and its WHERE, for counting.

    Only public fields unless ``staff``, only public rows unless ``roles`` may see all
    (``Layer.public_rows``); ``all_rows`` decides that instead of ``roles`` when given."""
    table = table_of(layer)
    where = sa.and_(visible_rows(layer, table, roles, all_rows=all_rows), *conditions)
    select = sa.select(
        table.c[layer.id_column].label("_id"), geometry(table.c[layer.geometry_column]).label("_geometry"),
        *[table.c[f.column_name].label(f.name) for f in layer.visible_fields(staff)], *extra_columns,
    ).where(where).order_by(table.c[layer.id_column])
    return select, where


@dataclass(frozen=True)
class _Statement:
    """The SQL of one query shape (layer, fields, rows, filters, output CRS), compiled once, with named
    parameters; and the page's column types, for SQLAlchemy's own processing of the driver's rows.

    ``sql``: how many match and the page of them in one statement (one round trip). ``big_box_sql``:
    the page alone, walking the matches in id order — for when more match than the count stops at."""

    sql: str
    defaults: dict  # the values of the parameters compiled in (literals SQLAlchemy binds)
    big_box_sql: str
    big_box_defaults: dict
    types: tuple
    processors: dict  # the driver's type codes of a result → SQLAlchemy's processor per column (or None)


_DIALECT = psycopg_dialect.dialect()
_STATEMENTS: dict[tuple, tuple[Layer, _Statement]] = {}
_STATEMENTS_LOCK = threading.Lock()


def _shape_conditions(layer: Layer, table: sa.Table, *, bbox, bbox_srid: int, hromada_id, feature_id) -> list:
    """The filters every reader of the APIs takes, as conditions with named parameters (their values
    bound when given: ``None`` for a statement compiled once and executed with values later)."""
    conditions = []
    if bbox is not None:
        corners = [sa.bindparam(name, value, type_=sa.Float)
                   for name, value in zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), bbox, strict=True)]
        conditions.append(in_box(layer, table.c[layer.geometry_column], corners, bbox_srid))
    if hromada_id is not None and layer.hromada_column:
        column = table.c[layer.hromada_column]
        conditions.append(column == sa.bindparam("hromada_id", hromada_id, type_=column.type))
    if feature_id is not None:
        column = table.c[layer.id_column]
        conditions.append(column == sa.bindparam("feature_id", feature_id, type_=column.type))
    return conditions


BOX_SLACK = 1e-4  # degrees (about 11 m): five times a single-precision box's rounding at longitude 180


def in_box(layer: Layer, geometry, corners, srid: int = 4326) -> sa.ColumnElement:
    """The features whose geometry intersects the box ``corners`` (minx, miny, maxx, maxy in ``srid``).

    For a WGS 84 box, the same answer as ST_Intersects, cheaper. Points: the spatial index's ``&&``,
    then each point's coordinates compared with the box's (closed, as ST_Intersects has it).
    ST_Intersects tests every point against the box as a polygon: on 681 of a million lamps, counting
    took 0.68 ms that way and 0.49 ms this way, a page of 100 0.80 and 0.56 ms."""
    envelope = sa.func.ST_MakeEnvelope(*corners, srid)
    if srid != 4326:  # the box becomes a polygon in WGS 84 (its sides need not stay straight there)
        return sa.func.ST_Intersects(geometry, sa.func.ST_Transform(envelope, 4326))
    minx, miny, maxx, maxy = corners
    if layer.geometry == "Point":
        exact = sa.and_(sa.func.ST_X(geometry).between(minx, maxx), sa.func.ST_Y(geometry).between(miny, maxy))
        # Inside a CASE the planner takes the exact test for a coin toss (½) instead of two ranges over
        # expressions it knows nothing of (0.005² — a box of a million lamps guessed to hold 10), so its
        # guess of how many match stays the index's: a country-wide page then walks the ids in order
        # instead of sorting every lamp (700 ms → tens of ms).
        return sa.and_(geometry.op("&&")(envelope), sa.case((exact, sa.true()), else_=sa.false()))
    # Lines and polygons: one whose bounding box lies inside the box shrunk by BOX_SLACK intersects it, with
    # no exact test (PostGIS's ``@`` reads the box each geometry keeps); the rest near the edges take
    # ST_Intersects. Those boxes are single-precision floats rounded outward, by under 2e-5° anywhere on
    # Earth: the slack keeps the shortcut exact. On 874 of a million parcels: 2.10 → 1.23 ms to count them.
    inner = sa.func.ST_MakeEnvelope(
        sa.func.least(minx + BOX_SLACK, (minx + maxx) / 2), sa.func.least(miny + BOX_SLACK, (miny + maxy) / 2),
        sa.func.greatest(maxx - BOX_SLACK, (minx + maxx) / 2), sa.func.greatest(maxy - BOX_SLACK, (miny + maxy) / 2),
        4326)
    # In a CASE, as for points: the planner neither reads the index a second time for ``@`` (two bitmap
    # scans and their union, 0.5 ms on 886 parcels) nor guesses the box all but empty.
    return sa.and_(geometry.op("&&")(envelope),
                   sa.case((geometry.op("@")(inner), sa.true()), else_=sa.func.ST_Intersects(geometry, envelope)))


def _shape(layer: Layer, simplify: float | None, out_srid: int | None):
    """The geometry as read_features writes it: in ``out_srid``, simplified to ``simplify`` degrees
    (lines and polygons only), as GeoJSON text."""
    def shape(geom):
        if simplify is not None and layer.geometry not in ("Point", "MultiPoint"):
            geom = sa.func.ST_SimplifyPreserveTopology(geom, simplify)
        return geojson_geometry(geometry_out(geom, out_srid))
    return shape


def _statement(layer: Layer, *, staff: bool, all_rows: bool, bbox: bool, bbox_srid: int, hromada: bool,
               feature: bool, out_srid: int | None, simplify: bool, count_limited: bool) -> _Statement:
    key = (id(layer), staff, all_rows, bbox, bbox_srid, hromada, feature, out_srid, simplify, count_limited)
    found = _STATEMENTS.get(key)
    if found is not None and found[0] is layer:
        return found[1]
    table = table_of(layer)
    conditions = _shape_conditions(layer, table, bbox=(None,) * 4 if bbox else None, bbox_srid=bbox_srid,
                                   hromada_id=0 if hromada else None, feature_id=0 if feature else None)
    select, where = feature_select(layer, staff=staff, all_rows=all_rows, conditions=conditions,
                                   geometry=_shape(layer, sa.bindparam("simplify", type_=sa.Float) if simplify
                                                   else None, out_srid))
    # WITH hits AS (SELECT id … WHERE … [LIMIT count_limit])
    # SELECT page.*, counted._matched FROM (SELECT count(*) FROM hits) AS counted
    #   LEFT OUTER JOIN (SELECT … FROM (SELECT id FROM hits ORDER BY id LIMIT … OFFSET …) JOIN table) AS page
    #   ON true ORDER BY page._id
    # The matches are found once — their ids — and counted and paged from there; only the page's rows
    # are read again, by primary key. (Counting and paging each from the table visited every match
    # twice: 681 lamps in a box, 2.5 → 1.9 ms.) At least one row, whose _matched is the count; _id is
    # NULL in it when the page is empty. When the count stops at its limit, ``hits`` is not every match
    # and the page comes from ``big_box_sql`` instead (read_features).
    id_column = table.c[layer.id_column]
    hits = sa.select(id_column.label("_hit")).where(where)
    if count_limited:
        hits = hits.limit(sa.bindparam("count_limit", type_=sa.Integer))
    hits = hits.cte("hits")
    counted = sa.select(sa.func.count().label("_matched")).select_from(hits).subquery("counted")
    page_ids = sa.select(hits.c._hit).order_by(hits.c._hit).limit(
        sa.bindparam("page_limit", type_=sa.Integer)).offset(sa.bindparam("page_offset", type_=sa.Integer)
                                                              ).subquery("page_ids")
    page = sa.select(*select.selected_columns).select_from(
        table.join(page_ids, id_column == page_ids.c._hit)).subquery("page")
    both = sa.select(*page.c, counted.c._matched).select_from(counted.outerjoin(page, sa.true())).order_by(page.c._id)
    compiled = both.compile(dialect=_DIALECT)
    big_box = select.limit(sa.bindparam("page_limit", type_=sa.Integer)).offset(
        sa.bindparam("page_offset", type_=sa.Integer)).compile(dialect=_DIALECT)
    statement = _Statement(compiled.string, compiled.params, big_box.string, big_box.params,
                           tuple(c.type for c in select.selected_columns), {})
    with _STATEMENTS_LOCK:
        _STATEMENTS[key] = (layer, statement)
    return statement


def _count(table: sa.Table, where, limit=None) -> sa.Select:
    """``SELECT count(*)`` of the rows matching ``where``; with ``limit``, of no more than that many
    (the count then stops there instead of visiting every row of a large box): ask for one more than
    a threshold to learn whether more match."""
    if limit is None:
        return sa.select(sa.func.count().label("_matched")).select_from(table).where(where)
    limited = sa.select(sa.literal(1)).select_from(table).where(where).limit(limit).subquery("limited")
    return sa.select(sa.func.count().label("_matched")).select_from(limited)


def _driver_rows(conn: sa.Connection, statement: _Statement, params: dict) -> tuple[int, list[tuple]]:
    """How many match (no further than ``count_limit`` when given) and the page's rows, run on the
    driver's connection: the SQL is compiled already, and rows are tuples processed as SQLAlchemy would
    (its processor per column type, where it has one). A failure is raised as SQLAlchemy raises it (the
    app's 503 and 400 handlers, a lost connection invalidated)."""
    rows, codes = _driver_execute(conn, statement.sql, {**statement.defaults, **params})
    matched = rows[0][-1]
    if "count_limit" in params and matched >= params["count_limit"]:
        # More match than were counted: the page is the first of all the matches in id order, not of
        # those counted. Planned for this box, not prepared: it runs only for boxes this full, where
        # walking the ids in order and stopping at the page is right (a million lamps: 1 ms), and a plan
        # kept from smaller boxes could sort every match instead (before in_box kept the planner's
        # guess, that took 1.6 s).
        rows, codes = _driver_execute(conn, statement.big_box_sql, {**statement.big_box_defaults, **params},
                                      prepare=False)
        return matched, _processed(statement, rows, codes)
    if rows[0][0] is None:  # no row on this page
        return matched, []
    return matched, _processed(statement, [row[:-1] for row in rows], codes[:-1])


def _driver_execute(conn: sa.Connection, sql: str, params: dict, prepare: bool | None = None):
    """The rows of ``sql`` and their columns' type codes, on the driver's connection."""
    with direct_sql.errors_as_sqlalchemy(conn, sql, params):
        cursor = conn.connection.driver_connection.execute(sql, params, prepare=prepare)
        rows = cursor.fetchall()
    return rows, tuple(column.type_code for column in cursor.description)


def _processed(statement: _Statement, rows: list[tuple], codes: tuple) -> list[tuple]:
    """The page's rows with SQLAlchemy's processor of each column's type applied (kept per type codes)."""
    processors = statement.processors.get(codes)
    if processors is None:
        processors = tuple(t.dialect_impl(_DIALECT).result_processor(_DIALECT, code)
                           for t, code in zip(statement.types, codes, strict=True))
        processors = processors if any(processors) else ()
        statement.processors[codes] = processors
    if processors:
        rows = [tuple(value if p is None or value is None else p(value)
                      for p, value in zip(processors, row, strict=True)) for row in rows]
    return rows


def read_features(conn: sa.Connection, layer: Layer, *, conditions=(), bbox=None, bbox_srid: int = 4326,
                  hromada_id: int | None = None, feature_id: int | None = None, page: Page = Page(),
                  staff: bool = False, roles=frozenset(), out_srid: int | None = None, extra_columns=(),
                  simplify: float | None = None, raw_geometry: bool = False,
                  count_up_to: int | None = None) -> tuple[list[dict], int | None, list]:
    """The one feature reader (the layer API, OGC API, the map, the editor): the page of features in
    ``bbox`` (``minx, miny, maxx, maxy`` in ``bbox_srid``; 4326 longitude first), of the hromada
    ``hromada_id``, the feature ``feature_id``, and matching ``conditions`` (SQLAlchemy conditions on
    the layer's table); how many match in all; and the rows (mappings, for ``extra_columns`` such as
    a version). Geometries in ``out_srid`` (geometry_out), lines and polygons simplified to
    ``simplify`` degrees when given (the map: about a pixel).

    ``raw_geometry``: each geometry is the GeoJSON text PostGIS wrote (gis.jsonvalues.RawJSON),
    which the serialiser puts into the answer as it is; else it is decoded (for Python code that
    reads coordinates).

    ``count_up_to``: count the matches no further than that; how many match is then None when more do
    (an API then leaves ``numberMatched`` out, as OGC API – Features allows). A box over a national
    layer would otherwise visit every feature in it on every page.

    The filters of the APIs (bbox, hromada, id) run as SQL compiled once per layer and query shape,
    straight on the driver's connection; anything in ``conditions`` or ``extra_columns`` is built
    and compiled by SQLAlchemy on each call. The features are the same either way."""
    if conditions or extra_columns:
        table = table_of(layer)
        shape = _shape_conditions(layer, table, bbox=bbox, bbox_srid=bbox_srid, hromada_id=hromada_id,
                                  feature_id=feature_id)
        select, where = feature_select(layer, staff=staff, roles=roles, conditions=[*shape, *conditions],
                                       geometry=_shape(layer, simplify, out_srid), extra_columns=extra_columns)
        matched = conn.execute(_count(table, where, None if count_up_to is None else count_up_to + 1)).scalar_one()
        result = conn.execute(select.limit(page.limit).offset(page.offset)).all()
        rows, mappings = result, [row._mapping for row in result]
    else:
        has_hromada = hromada_id is not None and bool(layer.hromada_column)
        statement = _statement(layer, staff=staff, all_rows=sees_all_rows(layer, roles),
                               bbox=bbox is not None, bbox_srid=bbox_srid, hromada=has_hromada,
                               feature=feature_id is not None, out_srid=out_srid, simplify=simplify is not None,
                               count_limited=count_up_to is not None)
        params = {"page_limit": page.limit, "page_offset": page.offset}
        if count_up_to is not None:
            params["count_limit"] = count_up_to + 1
        if bbox is not None:
            params.update(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), map(float, bbox), strict=True))
        if has_hromada:
            params["hromada_id"] = hromada_id
        if feature_id is not None:
            params["feature_id"] = feature_id
        if simplify is not None:
            params["simplify"] = simplify
        matched, rows = _driver_rows(conn, statement, params)
        mappings = None
    if count_up_to is not None and matched > count_up_to:
        matched = None
    names, converted = _property_columns(layer, staff)
    end = 2 + len(names)
    geometry = RawJSON if raw_geometry else orjson.loads
    if any(converted):
        items = [geojson.feature(row[0], geometry(row[1]) if row[1] else None,
                                 {name: jsonable(value) if convert else value
                                  for name, convert, value in zip(names, converted, row[2:end], strict=True)})
                 for row in rows]
    else:  # nothing to convert: the values as the driver gave them
        items = [geojson.feature(row[0], geometry(row[1]) if row[1] else None,
                                 dict(zip(names, row[2:end], strict=True))) for row in rows]
    return items, matched, mappings if mappings is not None else _RowMappings(("_id", "_geometry", *names), rows)


_PROPERTY_COLUMNS: dict[tuple, tuple[Layer, tuple, tuple]] = {}


def _property_columns(layer: Layer, staff: bool) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The names of the fields read_features returns, and for each whether its values may need
    :func:`jsonable` (dates, times, exact decimals, JSON); text, whole numbers, floats and booleans never do."""
    found = _PROPERTY_COLUMNS.get((id(layer), staff))
    if found is not None and found[0] is layer:
        return found[1], found[2]
    table = table_of(layer)
    fields = layer.visible_fields(staff)
    plain = (sa.String, sa.Integer, sa.Boolean)

    def needs(column) -> bool:
        kind = column.type
        return not (isinstance(kind, plain) or (isinstance(kind, sa.Float) and not kind.asdecimal))

    names, converted = tuple(f.name for f in fields), tuple(needs(table.c[f.column_name]) for f in fields)
    _PROPERTY_COLUMNS[(id(layer), staff)] = (layer, names, converted)
    return names, converted


class _RowMappings(Sequence):
    """read_features' rows as mappings of ``keys`` (the rows' first columns), made only when asked for."""

    def __init__(self, keys: tuple[str, ...], rows: list[tuple]):
        self._keys, self._rows = keys, rows

    def __len__(self) -> int:
        return len(self._rows)

    def _mapping(self, row: tuple) -> dict:
        return dict(zip(self._keys, row[:len(self._keys)], strict=True))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._mapping(row) for row in self._rows[index]]
        return self._mapping(self._rows[index])


def read_feature(conn: sa.Connection, layer: Layer, feature_id: int, *, staff: bool = False, roles=frozenset(),
                 out_srid: int | None = None, extra_columns=(),
                 raw_geometry: bool = False) -> tuple[dict, dict] | tuple[None, None]:
    """One feature by id and its raw row (read_features); (None, None) when there is none to see."""
    items, _, rows = read_features(conn, layer, feature_id=feature_id, staff=staff, roles=roles, out_srid=out_srid,
                                   extra_columns=extra_columns, raw_geometry=raw_geometry)
    return (items[0], rows[0]) if items else (None, None)


def features(conn: sa.Connection, layer: Layer, *, bbox=None, page: Page = Page(),
             hromada_id: int | None = None, feature_id: int | None = None,
             staff: bool = False, roles=frozenset(), simplify: float | None = None,
             raw_geometry: bool = False, count_up_to: int | None = None) -> tuple[list[dict], int | None]:
    """The page of features (GeoJSON dicts) in a WGS 84 ``bbox``, a hromada or by id, and how many
    match in all (read_features; ``simplify``, ``raw_geometry`` and ``count_up_to`` as there)."""
    items, matched, _ = read_features(conn, layer, bbox=bbox, hromada_id=hromada_id, feature_id=feature_id,
                                      page=page, staff=staff, roles=roles, simplify=simplify,
                                      raw_geometry=raw_geometry, count_up_to=count_up_to)
    return items, matched


def has_next_page(page: Page, returned: int, matched: int | None) -> bool:
    """Whether a page follows this one: by the count, or, where the matches were not all counted
    (read_features' ``count_up_to``), by this page being full."""
    return returned == page.limit if matched is None else page.offset + page.limit < matched


def _in_view(layer: Layer, table: sa.Table, bbox, hromada_id: int | None, roles) -> list[sa.ColumnElement]:
    where = [visible_rows(layer, table, roles), in_box(layer, table.c[layer.geometry_column], bbox)]
    if hromada_id is not None and layer.hromada_column:
        where.append(table.c[layer.hromada_column] == hromada_id)
    return where


def more_in_view_than(conn: sa.Connection, layer: Layer, threshold: int, *, bbox, hromada_id: int | None = None,
                      roles=frozenset()) -> bool:
    """Whether the ``bbox`` holds more than ``threshold`` features the ``roles`` may see (counted no further)."""
    table = table_of(layer)
    where = sa.and_(*_in_view(layer, table, bbox, hromada_id, roles))
    return conn.execute(_count(table, where, threshold + 1)).scalar_one() > threshold


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
    """features() as a FeatureCollection; without ``numberMatched`` when the matches were not all counted."""
    items, matched = features(conn, layer, **kwargs)
    return geojson.page(items, matched)


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
