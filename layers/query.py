"""Reading any declared layer as GeoJSON (RFC 7946), with only the fields the reader may see.

Plain values in, plain values out: the web API, the map and the CLI all call these functions.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass

import sqlalchemy as sa

from gis.errors import InvalidInput
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


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def features(conn: sa.Connection, layer: Layer, *, bbox=None, page: Page = Page(),
             hromada_id: int | None = None, feature_id: int | None = None,
             staff: bool = False, roles=frozenset()) -> tuple[list[dict], int]:
    """The page of features (GeoJSON dicts) and how many match in all.

    Only public fields unless ``staff``, only public rows unless ``roles`` may see all
    (``Layer.public_rows``); features ordered by id so paging is stable.
    """
    table = table_of(layer)
    geom = table.c[layer.geometry_column]
    fields = layer.visible_fields(staff)
    conditions = [visible_rows(layer, table, roles)]
    if bbox is not None:
        envelope = sa.func.ST_MakeEnvelope(*bbox, 4326)
        conditions.append(sa.func.ST_Intersects(geom, envelope))
    if hromada_id is not None and layer.hromada_column:
        conditions.append(table.c[layer.hromada_column] == hromada_id)
    if feature_id is not None:
        conditions.append(table.c[layer.id_column] == feature_id)
    where = sa.and_(sa.true(), *conditions)

    matched = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
    rows = conn.execute(
        sa.select(
            table.c[layer.id_column].label("_id"),
            sa.func.ST_AsGeoJSON(geom, COORD_DECIMALS).label("_geometry"),
            *[table.c[f.column_name].label(f.name) for f in fields],
        ).where(where).order_by(table.c[layer.id_column]).limit(page.limit).offset(page.offset)
    ).mappings()
    out = []
    for row in rows:
        out.append({
            "type": "Feature",
            "id": row["_id"],
            "geometry": json.loads(row["_geometry"]) if row["_geometry"] else None,
            "properties": {f.name: _json_value(row[f.name]) for f in fields},
        })
    return out, matched


def feature_collection(conn: sa.Connection, layer: Layer, **kwargs) -> dict:
    items, matched = features(conn, layer, **kwargs)
    return {
        "type": "FeatureCollection",
        "features": items,
        "numberMatched": matched,
        "numberReturned": len(items),
    }
