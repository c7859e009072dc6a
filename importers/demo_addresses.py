"""Demo addresses, so that "вул. Центральна 5, Якушинці" finds a house in the demo (#17, layers.places).

The demo's streets are its road segments named "вул. …" (importers.demo: a main street through each
village's centre and a side street crossing it): each becomes a street of the address layer, and
houses are numbered along it — odd numbers on one side, even on the other, every few dozen metres,
HOUSES per street. Invented, source ``demo``; stored through layers.places like any import, keyed by
village, street and number, so loading again changes nothing.
"""
from __future__ import annotations

import math

import shapely
import sqlalchemy as sa

from importers.demo_common import DEMO_SOURCE, round_geometry
from layers.places import Address, Stored, StreetPart, store_addresses, store_streets
from layers.roads import ROAD_SEGMENTS
from layers.tables import build_table

HOUSES = {"вул. Центральна": 12, "вул. Садова": 6}  # house numbers 1…n on each demo street of that name
SIDE_M = 12  # houses stand this far either side of the street's line
METRES_PER_DEGREE = 111_320


def _demo_streets(conn: sa.Connection, hromada_id: int) -> list[tuple[str, str, str, object]]:
    """(village, street name, road id, line) of the demo's streets, in a fixed order."""
    table = build_table(ROAD_SEGMENTS).name  # a table's name, not a value
    rows = conn.execute(sa.text(f"""
        SELECT (SELECT v.name_uk FROM settlement_at(r.hromada_id, ST_LineInterpolatePoint(r.geom, 0.5)) v),
               r.name, r.osm_id, ST_AsBinary(r.geom)
        FROM {table} r WHERE r.hromada_id = :h AND r.is_demo AND r.name = ANY(:names)
        ORDER BY r.osm_id"""), {"h": hromada_id, "names": list(HOUSES)}).all()
    return [(v, name, ref, shapely.from_wkb(bytes(wkb))) for v, name, ref, wkb in rows if v]


def _houses(line, count: int) -> list[tuple[int, object]]:
    """House numbers 1…count along ``line``: a pair (odd left, even right) at evenly spaced points."""
    pairs = (count + 1) // 2
    start, end = line.coords[0], line.coords[-1]
    scale = math.cos(math.radians(line.centroid.y))  # a degree of longitude is this much shorter
    dx, dy = (end[0] - start[0]) * scale, end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length  # the left side, in metres' proportions
    out = []
    for k in range(pairs):
        at = line.interpolate((k + 0.5) / pairs, normalized=True)
        for number, side in ((2 * k + 1, 1), (2 * k + 2, -1)):
            if number <= count:
                point = shapely.Point(at.x + side * nx * SIDE_M / (METRES_PER_DEGREE * scale),
                                      at.y + side * ny * SIDE_M / METRES_PER_DEGREE)
                out.append((number, round_geometry(point)))
    return out


def load_demo_addresses(conn: sa.Connection, hromada_id: int) -> tuple[Stored, Stored]:
    """The demo streets and their houses into the address layer; (streets, addresses) as stored."""
    streets = _demo_streets(conn, hromada_id)
    parts = [StreetPart(name, line, ref) for _, name, ref, line in streets]
    houses = [Address(street=name, place=village, housenumber=str(number), geom=point,
                      ref=f"{village}/{name}/{number}")
              for village, name, _, line in streets for number, point in _houses(line, HOUSES[name])]
    return (store_streets(conn, parts, source=DEMO_SOURCE, hromada_id=hromada_id),
            store_addresses(conn, houses, source=DEMO_SOURCE, hromada_id=hromada_id))
