"""Bulk writes into PostGIS with COPY (never row-by-row INSERTs).

- :func:`copy_rows`: Python rows with binary COPY, for the loaders that build rows one by one.
- :class:`CsvCopy`: Arrow tables, batch after batch, into one COPY in CSV; for file imports.

Rows go into the table or a temporary staging table; the caller merges a staging table into the
real one inside the same transaction, so a load lands whole or not at all.
"""
from __future__ import annotations

import binascii
import contextlib
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
import sqlalchemy as sa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
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



def hex_wkb(geoms: np.ndarray) -> pa.StringArray:
    """The geometries as hex WKB text (None stays null), for :class:`CsvCopy`.

    GEOS's own hex writer is five times slower than writing binary WKB and hex-encoding all of
    it at once, which this does: the hex of each geometry sits at twice its binary offsets.
    """
    binary = pa.array(shapely.to_wkb(geoms), type=pa.binary())
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int32)[binary.offset:binary.offset + len(binary) + 1]
    data = binascii.hexlify(memoryview(binary.buffers()[2])[offsets[0]:offsets[-1]]) if len(binary) else b""
    return pa.StringArray.from_buffers(len(binary), pa.py_buffer((2 * (offsets - offsets[0])).astype(np.int32)),
                                       pa.py_buffer(data), binary.buffers()[0], binary.null_count)


# Arrow's CSV as PostgreSQL's CSV reads it: a null is written empty and unquoted (read as NULL),
# every string is quoted (so "" stays an empty string, and quotes and new lines survive).
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


class CsvCopy:
    """One ``COPY table (columns) FROM STDIN (FORMAT csv)`` fed with Arrow tables, batch after batch.

    Arrow writes the CSV in C++, not a Python call per row, and psycopg's queued writer sends it
    from a thread of its own, so PostgreSQL stores one batch while the caller prepares the next.
    Geometry columns take hex WKB; one without an SRID gets the column's (``geometry(…, 4326)``),
    as PostGIS does for any geometry of SRID 0 that enters a column with one.
    """

    def __init__(self, conn: sa.Connection, table: str, columns: Sequence[str]):
        self.columns = list(columns)
        self._driver = conn.connection.driver_connection
        self._sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in self.columns))
        self._open = contextlib.ExitStack()

    def __enter__(self) -> CsvCopy:
        cursor = self._open.enter_context(self._driver.cursor())
        self._copy = self._open.enter_context(cursor.copy(self._sql, writer=QueuedLibpqWriter(cursor)))
        return self

    def write(self, batch: pa.Table) -> int:
        """Send ``batch`` (its columns by name, as given to the constructor); the rows sent."""
        if batch.num_rows:
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch.select(self.columns), sink, _CSV)
            self._copy.write(sink.getvalue().to_pybytes())
        return batch.num_rows

    def __exit__(self, *exc_info) -> bool | None:
        return self._open.__exit__(*exc_info)  # an exception cancels the COPY (and so the transaction)
