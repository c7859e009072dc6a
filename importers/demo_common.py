"""What every demo loader shares: a key per row made from its content, and syncing by those keys.

Each demo row carries ``raw.demo_key``; a loader computes the rows it wants and ``sync_demo_rows``
deletes the demo rows no longer wanted and inserts the missing ones, so a second run changes
nothing and staff edits to rows that stay are kept.
"""
from __future__ import annotations

import hashlib
import json

import shapely
import sqlalchemy as sa

from gis.bulk import ewkb

DEMO_SOURCE = "demo"


def demo_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()[:24]


def round_geometry(geom):
    return shapely.set_precision(geom, 1e-7)  # ~1 cm: the same geometry on every machine and run


def sync_demo_rows(conn: sa.Connection, table: sa.Table, hromada_id: int, rows: list[dict]) -> int:
    """Make the demo rows of ``table`` exactly ``rows``, touching only those that differ."""
    have = set(conn.execute(sa.select(table.c.raw["demo_key"].astext).where(
        table.c.hromada_id == hromada_id, table.c.source == DEMO_SOURCE, table.c.is_demo)).scalars())
    want = {r["raw"]["demo_key"]: r for r in rows}
    gone = have - set(want)
    if gone:
        conn.execute(table.delete().where(table.c.hromada_id == hromada_id, table.c.source == DEMO_SOURCE,
                                          table.c.is_demo, table.c.raw["demo_key"].astext.in_(gone)))
    new = [dict(r, geom=sa.func.ST_GeomFromEWKB(ewkb(r["geom"]))) for k, r in want.items() if k not in have]
    for row in new:  # a few dozen rows: one statement each keeps the SQL simple
        conn.execute(table.insert().values(**row))
    return len(new) + len(gone)
