"""gis.db.make_engine: a pooled connection is pinged only after it has been idle, and a dead one is replaced."""
import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis import db


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_a_connection_in_steady_use_is_not_pinged_an_idle_one_is(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.3)
    engine = db.make_engine(database_url)
    pings = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or ping(conn))
    try:
        first = _backend(engine)  # a new connection: not pinged
        for _ in range(20):
            assert _backend(engine) == first
        assert pings == []
        time.sleep(0.4)
        assert _backend(engine) == first and pings == [1]
    finally:
        engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced_without_an_error(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.1)
    engine = db.make_engine(database_url)
    try:
        dead = _backend(engine)
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (dead,))
        time.sleep(0.2)
        assert _backend(engine) != dead
    finally:
        engine.dispose()


def test_always_ping_replaces_a_connection_that_died_a_moment_after_its_use(database_url, monkeypatch):
    """A batch job's workers (layers.coverage_distributed) ping on every checkout: a connection the server
    ended between two tasks, however close, is replaced; without always_ping the task meets it dead."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 60.0)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    for always, replaced in ((True, True), (False, False)):
        engine = db.make_engine(database_url, always_ping=always)
        try:
            dead = _backend(engine)
            with psycopg.connect(dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (dead,))
                while killer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (dead,)).fetchone():
                    time.sleep(0.01)
            if replaced:
                assert _backend(engine) != dead
            else:
                with pytest.raises(sa.exc.OperationalError):
                    _backend(engine)
        finally:
            engine.dispose()


def test_without_pre_ping_nothing_is_pinged(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = db.make_engine(database_url, pool_pre_ping=False)
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: (_ for _ in ()).throw(AssertionError("pinged")))
    try:
        _backend(engine)
        _backend(engine)
    finally:
        engine.dispose()
