"""The hromada's numbers on residents' reports, computed in PostGIS: for the leadership's yearly
monitoring, the public and journalists (no personal data), with more detail for staff.

Public figures count public reports only (not hidden, not waiting for approval: layers.moderation);
the staff version counts every report and adds the overdue list. Times are in hours; months and
"overdue" are in Kyiv time.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from layers.report_states import OPEN_STATUSES

HEX_SIZE_M = 500  # the side of a hexagon of the "where reports come from" map


def _scope(staff: bool) -> str:
    return "r.hromada_id = :h" + ("" if staff else " AND r.is_public")


def _counts(conn: sa.Connection, hromada_id: int, staff: bool, key_sql: str, joins: str, names: str) -> list[dict]:
    rows = conn.execute(sa.text(f"""
        SELECT {names}, count(*) AS total,
               count(*) FILTER (WHERE r.status = ANY(:open)) AS open,
               count(*) FILTER (WHERE NOT r.status = ANY(:open)) AS closed
        FROM report r {joins}
        WHERE {_scope(staff)}
        GROUP BY {key_sql} ORDER BY total DESC, {key_sql}"""), {"h": hromada_id, "open": list(OPEN_STATUSES)})
    return [dict(r) for r in rows.mappings()]


def by_category(conn, hromada_id, staff=False):
    return _counts(conn, hromada_id, staff, "c.code, c.name_uk, c.name_en",
                   "JOIN category c ON c.id = r.category_id", "c.code, c.name_uk, c.name_en")


def by_unit(conn, hromada_id, staff=False):
    # A report's unit is always one of its hromada's (routing and transfers keep to it): saying so
    # lets PostgreSQL read the hromada's few units, not hash all 11,735 of the country (national size:
    # 32 ms → 1.6 ms for the demo's reports).
    return _counts(conn, hromada_id, staff, "u.code, u.name_uk, u.name_en",
                   "JOIN unit u ON u.id = r.unit_id AND u.hromada_id = r.hromada_id",
                   "u.code, u.name_uk, COALESCE(u.name_en, u.name_uk) AS name_en")


def by_village(conn, hromada_id, staff=False):
    return _counts(conn, hromada_id, staff, "v.name_uk, v.name_en",
                   "LEFT JOIN LATERAL settlement_at(r.hromada_id, r.location) v ON true",
                   "v.name_uk, COALESCE(v.name_en, v.name_uk) AS name_en")


def by_month(conn, hromada_id, staff=False):
    rows = conn.execute(sa.text(f"""
        SELECT to_char(r.created_at AT TIME ZONE 'Europe/Kyiv', 'YYYY-MM') AS month, count(*) AS total,
               count(*) FILTER (WHERE r.status = 'resolved') AS resolved
        FROM report r WHERE {_scope(staff)} GROUP BY 1 ORDER BY 1"""), {"h": hromada_id})
    return [dict(r) for r in rows.mappings()]


def times(conn, hromada_id, staff=False) -> dict:
    """Median and 90th percentile of the hours to acknowledge (the first status change away from
    "new") and to resolve (the last time it was resolved), and the share resolved within target."""
    row = conn.execute(sa.text(f"""
        WITH r AS (SELECT r.* FROM report r WHERE {_scope(staff)}),
        ack AS (SELECT r.id, extract(epoch FROM min(e.created_at) - r.created_at) / 3600 AS hours
                FROM r JOIN report_event e ON e.report_id = r.id
                WHERE e.kind = 'status' AND e.from_status = 'new' GROUP BY r.id, r.created_at),
        res AS (SELECT r.id, extract(epoch FROM r.closed_at - r.created_at) / 3600 AS hours,
                       r.closed_at <= r.due_at AS in_time
                FROM r WHERE r.status = 'resolved')
        SELECT (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) FROM ack) AS ack_median,
               (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) FROM ack) AS ack_p90,
               (SELECT count(*) FROM ack) AS acknowledged,
               (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) FROM res) AS resolve_median,
               (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) FROM res) AS resolve_p90,
               (SELECT count(*) FROM res) AS resolved,
               (SELECT count(*) FILTER (WHERE in_time) FROM res) AS resolved_in_time,
               (SELECT count(*) FROM r) AS total,
               (SELECT count(*) FROM r WHERE r.status = ANY(:open)) AS open"""),
        {"h": hromada_id, "open": list(OPEN_STATUSES)}).mappings().one()
    out = {k: round(float(v), 1) if k.endswith(("median", "p90")) and v is not None else v for k, v in row.items()}
    out["share_in_time"] = round(row["resolved_in_time"] / row["resolved"], 3) if row["resolved"] else None
    out["closed"] = row["total"] - row["open"]
    return out


def fixed_answers(conn, hromada_id, staff=False) -> dict:
    row = conn.execute(sa.text(f"""
        SELECT count(*) FILTER (WHERE e.kind = 'fixed_yes') AS fixed,
               count(*) FILTER (WHERE e.kind = 'fixed_no') AS not_fixed
        FROM report_event e JOIN report r ON r.id = e.report_id WHERE {_scope(staff)}"""),
        {"h": hromada_id}).mappings().one()
    return dict(row)


def hexbins(conn, hromada_id, staff=False) -> dict:
    """Where reports come from: a GeoJSON FeatureCollection of hexagons (side HEX_SIZE_M) with their
    counts — areas, never the points themselves."""
    # Each point asks the grid for the hexagons round it (the grid is anchored at the origin, so they are
    # the hexagons of one grid over all the points) and keeps the one holding it: a grid over the extent
    # tested against every point took 24 s for a city of 88,000 reports (issue #20).
    rows = conn.execute(sa.text(f"""
        WITH pts AS (SELECT ST_Transform(r.location, 3857) AS g FROM report r WHERE {_scope(staff)})
        SELECT ST_AsGeoJSON(ST_Transform(h.geom, 4326), 6) AS shape, count(*) AS reports
        FROM pts CROSS JOIN LATERAL ST_HexagonGrid(:size, pts.g) h
        WHERE ST_Intersects(h.geom, pts.g)
        GROUP BY h.geom ORDER BY reports DESC"""), {"h": hromada_id, "size": HEX_SIZE_M}).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(r.shape), "properties": {"reports": r.reports}} for r in rows]}


def overdue(conn, hromada_id) -> list[dict]:
    """Open reports past their due moment (staff only), most overdue first."""
    rows = conn.execute(sa.text("""
        SELECT r.code, r.due_at, c.name_uk AS category_uk, c.name_en AS category_en,
               u.name_uk AS unit_uk, COALESCE(u.name_en, u.name_uk) AS unit_en
        FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
        WHERE r.hromada_id = :h AND r.status = ANY(:open) AND r.due_at < now()
        ORDER BY r.due_at, r.id"""), {"h": hromada_id, "open": list(OPEN_STATUSES)})
    return [dict(r) for r in rows.mappings()]


FIGURES = {"by_category": by_category, "by_unit": by_unit, "by_village": by_village, "by_month": by_month,
           "times": times, "fixed_answers": fixed_answers, "hexbins": hexbins}
TABLES = ("by_category", "by_unit", "by_village", "by_month")  # the figures that are tables (CSV)


def dashboard(conn: sa.Connection, hromada_id: int, *, staff: bool = False) -> dict:
    """Every figure; with ``staff`` over every report and with the overdue list."""
    out = {name: figure(conn, hromada_id, staff) for name, figure in FIGURES.items()}
    if staff:
        out["overdue"] = overdue(conn, hromada_id)
    return out
