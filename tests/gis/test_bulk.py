"""Arrow tables through one binary COPY (gis.bulk.BinaryCopy): every type the layers use, NULLs,
several batches, and a failure that leaves nothing behind."""
import datetime as dt

import pyarrow as pa
import pytest
import shapely
import sqlalchemy as sa

from gis.bulk import BinaryCopy

COLUMNS = [("i", "int4"), ("big", "int8"), ("x", "float8"), ("ok", "bool"), ("day", "date"), ("at", "timestamptz"),
           ("t", "text"), ("j", "jsonb"), ("g", "geometry(Point, 4326)")]


def batch(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    types = [pa.int64(), pa.int64(), pa.float64(), pa.bool_(), pa.date32(), pa.timestamp("us", "UTC"), pa.string(),
             pa.string(), pa.binary()]
    return pa.table({name: pa.array(values, type=t)
                     for (name, _), values, t in zip(COLUMNS, columns, types, strict=True)})


def test_every_type_and_null_arrives_over_several_batches(engine):
    at = dt.datetime(2026, 3, 1, 7, 0, 0, 123456, tzinfo=dt.timezone.utc)
    first = [(-7, 2**40, 0.1, True, dt.date(1999, 12, 31), at, 'лапки " і \\ та\nрядок', '{"a": [1, "б"]}',
              shapely.to_wkb(shapely.Point(28.5, 49.2)))]
    second = [(None,) * 9, (2**31 - 1, -1, -0.0, False, dt.date(2000, 1, 1), at, "", "[]", None)]
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE t (i int4, big int8, x float8, ok bool, day date, at timestamptz, "
                             "t text, j jsonb, g geometry(Point, 4326)) ON COMMIT DROP"))
        with BinaryCopy(conn, "t", COLUMNS) as copy:
            assert copy.write(batch(first)) == 1 and copy.write(batch(second)) == 2
        got = conn.execute(sa.text("SELECT i, big, x, ok, day, at, t, j, ST_SRID(g), ST_AsText(g) FROM t")).all()
    assert got[0] == (-7, 2**40, 0.1, True, dt.date(1999, 12, 31), at, 'лапки " і \\ та\nрядок', {"a": [1, "б"]},
                      4326, "POINT(28.5 49.2)")
    assert got[1] == (None,) * 8 + (None, None)
    assert got[2][:8] == (2**31 - 1, -1, -0.0, False, dt.date(2000, 1, 1), at, "", [])


def test_a_value_too_big_for_its_column_is_refused_and_nothing_lands(engine):
    with pytest.raises(OverflowError), engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bulk_overflow (i int4)"))
        with BinaryCopy(conn, "bulk_overflow", [("i", "int4")]) as copy:
            copy.write(pa.table({"i": pa.array([2**31])}))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('bulk_overflow')")).scalar() is None


def test_no_rows_is_a_valid_empty_copy(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE e (i int4) ON COMMIT DROP"))
        with BinaryCopy(conn, "e", [("i", "int4")]) as copy:
            assert copy.write(pa.table({"i": pa.array([], pa.int64())})) == 0
        assert conn.execute(sa.text("SELECT count(*) FROM e")).scalar() == 0
