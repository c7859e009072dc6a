"""Bulk writes into PostGIS with COPY (never row-by-row INSERTs).

- :func:`copy_rows`: Python rows with binary COPY, for the loaders that build rows one by one.
- :class:`BinaryCopy`: Arrow tables, batch after batch, into one binary COPY; for file imports.

Rows go into the table or a temporary staging table; the caller merges a staging table into the
real one inside the same transaction, so a load lands whole or not at all.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


def compress_with_lz4(conn: sa.Connection) -> None:
    """Large values (boundaries of thousands of vertices) written in the rest of the caller's
    transaction are compressed with lz4 rather than PostgreSQL's default pglz, where the server was
    built with lz4 (Debian's and PGDG's are). pglz took half the time of loading all
    1,466 hromadas (compressing 20 MB of boundaries into the staging table, then again into the
    tables); lz4 compresses several times faster and reads back faster too."""
    has_lz4 = conn.execute(sa.text("""
        SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'""")).scalar()
    if has_lz4:
        conn.execute(sa.text("SET LOCAL default_toast_compression = 'lz4'"))


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


# --- Arrow tables through binary COPY ------------------------------------------------------------
# PostgreSQL's binary COPY: a signature, then per row a 16-bit field count and per field a 32-bit
# length (-1 for NULL) and the value in the type's binary form, then -1. Arrow builds every row's
# bytes in C++ (binary_join_element_wise), so no Python code runs per row or per value.

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # and no flags, no header extension
_TRAILER = b"\xff\xff"
_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.binary())
_DAYS_1970_TO_2000 = 10_957
# Fixed-width types: the numpy type of their big-endian binary form.
_FIXED = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8", "bool": "u1",
          "date": ">i4", "timestamptz": ">i8", "timestamp": ">i8"}
INT4_RANGE = (-2**31, 2**31 - 1)


def _fixed_bytes(values: np.ndarray, width: int) -> pa.Array:
    """Each value's bytes (``values`` already in the wire's dtype) as a binary array."""
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [None, pa.py_buffer(
        np.ascontiguousarray(values).tobytes())]).cast(pa.binary())


def _field(array: pa.Array, pg_type: str) -> pa.Array:
    """One column as binary COPY fields: length and value per row, or the NULL marker."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n, valid = len(array), pc.is_valid(array)
    kind = pg_type.split("(")[0].strip().lower()
    if kind in _FIXED:
        dtype = np.dtype(_FIXED[kind])
        if kind == "date":
            array = pc.subtract(array.cast(pa.int32()), _DAYS_1970_TO_2000)
        elif kind.startswith("timestamp"):  # µs since 2000-01-01 UTC
            array = pc.subtract(array.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 946_684_800_000_000)
        numbers = pc.fill_null(array, False if kind == "bool" else 0).to_numpy(zero_copy_only=False)
        if dtype.kind == "i" and len(numbers) and not (np.iinfo(dtype).min <= numbers.min()
                                                       and numbers.max() <= np.iinfo(dtype).max):
            raise OverflowError(f"a value does not fit {pg_type}")  # callers check ranges first (INT4_RANGE)
        record = np.empty(n, dtype=[("length", ">i4"), ("value", dtype)])
        record["length"], record["value"] = dtype.itemsize, numbers
        return pc.if_else(valid, _fixed_bytes(record, 4 + dtype.itemsize), _NULL)
    payload = pc.fill_null(array.cast(pa.binary()), b"")
    if kind == "jsonb":  # jsonb's binary form: a version byte, then the text
        payload = pc.binary_join_element_wise(pa.scalar(b"\x01"), payload, pa.scalar(b""))
    lengths = pc.binary_length(payload).to_numpy(zero_copy_only=False).astype(">i4")
    return pc.if_else(valid, pc.binary_join_element_wise(_fixed_bytes(lengths, 4), payload, pa.scalar(b"")), _NULL)


def binary_rows(batch: pa.Table, columns: Sequence[tuple[str, str]]) -> bytes:
    """The rows of ``batch`` in binary COPY form, for ``columns`` = ``(name, postgres type)``.

    Geometry goes as WKB (binary); text and JSON as UTF-8; integers must fit their column.
    """
    count = pa.scalar(len(columns).to_bytes(2, "big"), pa.binary())
    rows = pc.binary_join_element_wise(count, *[_field(batch.column(name), t) for name, t in columns],
                                       pa.scalar(b""))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset:rows.offset + len(rows) + 1]
    return memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]].tobytes() if len(rows) else b""


class BinaryCopy:
    """One ``COPY table (columns) FROM STDIN (FORMAT BINARY)`` fed with Arrow tables, batch after batch.

    Arrow builds the rows in C++ (:func:`binary_rows`), not a Python call per row, and psycopg's
    queued writer sends them from a thread of its own, so PostgreSQL stores one batch while the
    caller prepares the next. A geometry without an SRID gets its column's (``geometry(…, 4326)``),
    as PostGIS does for any geometry of SRID 0 entering a column with one.
    """

    def __init__(self, conn: sa.Connection, table: str, columns: Sequence[tuple[str, str]]):
        self.columns = list(columns)
        self._driver = conn.connection.driver_connection
        self._sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(n) for n, _ in self.columns))
        self._open = contextlib.ExitStack()
        self._started = False

    def __enter__(self) -> BinaryCopy:
        cursor = self._open.enter_context(self._driver.cursor())
        self._copy = self._open.enter_context(cursor.copy(self._sql, writer=QueuedLibpqWriter(cursor)))
        return self

    def write(self, batch: pa.Table) -> int:
        """Send ``batch`` (with at least the constructor's columns, by name); the rows sent."""
        if batch.num_rows:
            data = binary_rows(batch, self.columns)
            self._copy.write(data if self._started else _SIGNATURE + data)
            self._started = True
        return batch.num_rows

    def __exit__(self, exc_type, exc, traceback) -> bool | None:
        if exc is None and self._started:
            self._copy.write(_TRAILER)  # (psycopg adds signature and trailer itself when nothing was sent)
        return self._open.__exit__(exc_type, exc, traceback)  # an exception cancels the COPY and the transaction
