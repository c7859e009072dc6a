"""gis.db.make_engine: a pooled connection is pinged only after it has been idle, and a dead one is replaced."""
import time

import psycopg
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


def test_without_pre_ping_nothing_is_pinged(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = db.make_engine(database_url, pool_pre_ping=False)
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: (_ for _ in ()).throw(AssertionError("pinged")))
    try:
        _backend(engine)
        _backend(engine)
    finally:
        engine.dispose()
