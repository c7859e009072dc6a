"""Bulk writes into PostGIS with binary COPY (never row-by-row INSERTs).

Rows go into a temporary staging table with ``COPY … FROM STDIN (FORMAT BINARY)``; the caller
then merges the staging table into the real one with one INSERT … ON CONFLICT, inside the same
transaction, so a load lands whole or not at all.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import shapely
import sqlalchemy as sa
from psycopg import sql
from shapely.geometry.base import BaseGeometry

from gis.crs import STORAGE_SRID

# Column type names as PostgreSQL knows them; "geometry" is sent as EWKB through bytea's binary
# form, which PostGIS's geometry_recv reads directly.
_COPY_TYPES = {"geometry": "bytea"}


def ewkb(geom: BaseGeometry | None, srid: int = STORAGE_SRID) -> bytes | None:
    if geom is None:
        return None
    return shapely.to_wkb(shapely.set_srid(geom, srid), include_srid=True)


def create_staging(conn: sa.Connection, staging: str, columns: Sequence[tuple[str, str]]) -> None:
    """A temporary table ``staging`` (dropped at commit) with ``columns`` = ``(name, postgres_type)``."""
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
            sql.Identifier(staging),
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns),
        ))


def copy_rows(conn: sa.Connection, staging: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> int:
    """Binary COPY of ``rows`` into ``staging``; geometry values must be EWKB bytes (see ewkb())."""
    count = 0
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(staging), sql.SQL(", ").join(sql.Identifier(n) for n, _ in columns))
    with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types([_COPY_TYPES.get(t, t) for _, t in columns])
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_into_staging(conn: sa.Connection, staging: str, columns: Sequence[tuple[str, str]],
                      rows: Iterable[Sequence]) -> int:
    """Create the staging table and COPY ``rows`` into it; the number of rows copied."""
    create_staging(conn, staging, columns)
    return copy_rows(conn, staging, columns, rows)

