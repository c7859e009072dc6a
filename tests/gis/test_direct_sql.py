"""gis.direct_sql: statements on the driver's connection behave as SQLAlchemy's own would — in the
caller's transaction, failing with SQLAlchemy's errors, a lost connection invalidated."""
import psycopg
import pytest
import sqlalchemy as sa

from gis import direct_sql


def test_rows_are_named_and_the_helpers_pick_what_they_say(clean_db):
    with clean_db.connect() as conn:
        row = direct_sql.one(conn, "SELECT %(a)s::int AS a, 'x' AS b", {"a": 7})
        assert (row.a, row.b) == (7, "x")
        assert direct_sql.scalar(conn, "SELECT 1 WHERE false") is None
        assert direct_sql.first(conn, "SELECT 1 WHERE false") is None
        assert [r.n for r in direct_sql.all_rows(conn, "SELECT generate_series(1, 3) AS n")] == [1, 2, 3]
        with pytest.raises(sa.exc.NoResultFound):
            direct_sql.one(conn, "SELECT 1 WHERE false")


def test_a_write_belongs_to_the_sqlalchemy_transaction_even_when_it_comes_first(demo_db):
    with demo_db.connect() as conn:  # nothing begun yet: the direct statement begins it
        direct_sql.cursor(conn, "INSERT INTO report_counter (hromada_id, year, last) "
                                "SELECT id, 2099, 41 FROM hromada LIMIT 1")
        assert conn.in_transaction()
        conn.commit()
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM report_counter WHERE year = 2099")).scalar() == 1
    with demo_db.connect() as conn:  # and a rollback takes it back
        direct_sql.cursor(conn, "DELETE FROM report_counter WHERE year = 2099")
        conn.rollback()
        assert conn.execute(sa.text("SELECT count(*) FROM report_counter WHERE year = 2099")).scalar() == 1


def test_a_failure_is_sqlalchemys_error_and_a_lost_connection_is_invalidated(clean_db):
    with clean_db.connect() as conn:
        with pytest.raises(sa.exc.DataError) as failed:
            direct_sql.first(conn, "SELECT 1 / %(zero)s", {"zero": 0})
        assert isinstance(failed.value.orig, psycopg.errors.DivisionByZero)
        assert not failed.value.connection_invalidated
    with clean_db.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with clean_db.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as lost:
            direct_sql.first(conn, "SELECT 1")
        assert lost.value.connection_invalidated and conn.invalidated
