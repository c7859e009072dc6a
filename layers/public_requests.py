"""Reports as the public reads them through Open311 (GeoReport v2 and mySociety's updates extension):
public fields only — never the reporter's name, e-mail or phone."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

_REQUEST_SQL = """
    SELECT r.id, r.code, r.status, r.description, r.created_at, r.updated_at, r.closed_at, r.due_at,
           ST_X(r.location) AS lon, ST_Y(r.location) AS lat, c.code AS service_code, c.name_uk AS service_name,
           u.name_uk AS agency, h.name_uk AS hromada_name,
           (SELECT v.name_uk FROM settlement_at(r.hromada_id, r.location) v) AS village,
           (SELECT e.public_note FROM report_event e WHERE e.report_id = r.id AND e.public_note IS NOT NULL
              ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS status_notes,
           (SELECT array_agg(p.position ORDER BY p.position) FROM report_photo p
              WHERE p.report_id = r.id AND p.hidden_at IS NULL) AS photos
    FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
    JOIN hromada h ON h.id = r.hromada_id
    WHERE r.hromada_id = :h AND r.is_public AND {where}
    ORDER BY {order} LIMIT :limit OFFSET :offset"""


def find_requests(conn: sa.Connection, hromada_id: int, *, codes: list[str] | None = None,
                  service_codes: list[str] | None = None, statuses: list[str] | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None,
                  limit: int = 1000, offset: int = 0) -> list[sa.RowMapping]:
    """The hromada's requests: those with the tracking ``codes`` (in that order), else those filed
    between ``start`` and ``end`` (newest first) of the ``service_codes`` and report ``statuses``."""
    where, params = ["TRUE"], {"h": hromada_id, "limit": limit, "offset": offset}
    if codes is not None:
        where.append("r.code = ANY(:codes)")
        params["codes"] = codes
        order = "array_position(CAST(:codes AS text[]), r.code)"
    else:
        order = "r.created_at DESC, r.id DESC"
    if start is not None:
        where.append("r.created_at >= :start")
        params["start"] = start
    if end is not None:
        where.append("r.created_at <= :end")
        params["end"] = end
    if service_codes:
        where.append("c.code = ANY(:service_codes)")
        params["service_codes"] = service_codes
    if statuses is not None:
        where.append("r.status = ANY(:statuses)")
        params["statuses"] = statuses
    return list(conn.execute(sa.text(_REQUEST_SQL.format(where=" AND ".join(where), order=order)),
                             params).mappings())


def request_code(conn: sa.Connection, hromada_id: int, code: str) -> str | None:
    """The tracking code, when the hromada has a request with it."""
    return conn.execute(sa.text("SELECT code FROM report WHERE code = :c AND hromada_id = :h"),
                        {"c": code.strip(), "h": hromada_id}).scalar()


def public_updates(conn: sa.Connection, hromada_id: int, start: dt.datetime, end: dt.datetime, *,
                   limit: int, offset: int) -> list[sa.RowMapping]:
    """Status changes and public notes between ``start`` and ``end``, oldest first, each with the
    status the request had after it (``status_after``)."""
    return list(conn.execute(sa.text("""
        SELECT e.id, e.created_at, e.kind, e.to_status, e.public_note, r.code,
               COALESCE(e.to_status, (
                   SELECT p.to_status FROM report_event p
                   WHERE p.report_id = e.report_id AND p.to_status IS NOT NULL
                     AND (p.created_at, p.id) < (e.created_at, e.id)
                   ORDER BY p.created_at DESC, p.id DESC LIMIT 1), r.status) AS status_after
        FROM report_event e JOIN report r ON r.id = e.report_id
        WHERE r.hromada_id = :h AND e.created_at >= :start AND e.created_at <= :end
          AND (e.kind = 'status' OR (e.kind = 'note' AND e.public_note IS NOT NULL))
        ORDER BY e.created_at, e.id LIMIT :limit OFFSET :offset"""),
        {"h": hromada_id, "start": start, "end": end, "limit": limit, "offset": offset}).mappings())


def database_now(conn: sa.Connection) -> dt.datetime:
    """The database's clock: time windows are measured against the times it stamped."""
    return conn.execute(sa.text("SELECT now()")).scalar_one()


def asset_id(conn: sa.Connection, hromada_id: int, kind: str, ref: str) -> int | None:
    """The id of the hromada's asset of ``kind`` numbered ``ref`` (a lamp's pole number), or None."""
    return conn.execute(sa.text("SELECT id FROM asset WHERE hromada_id = :h AND kind = :k AND ref = :r"),
                        {"h": hromada_id, "k": kind, "r": ref}).scalar()
