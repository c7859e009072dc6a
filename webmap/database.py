"""The app's database engine and a connection per request."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, current_app, g

from gis.db import make_engine


def init_app(app: Flask) -> None:
    app.extensions["hromada_engine"] = make_engine(app.config["DATABASE_URL"])
    # Reads that must be cheap (tiles): autocommit, and no ping before each use; see webmap.tiles.
    app.extensions["hromada_fast_read_engine"] = make_engine(app.config["DATABASE_URL"], pool_pre_ping=False,
                                                             isolation_level="AUTOCOMMIT")
    app.teardown_appcontext(_close_connection)


def dispose(app: Flask) -> None:
    """Close the app's pooled connections (a test's app, a stopping server)."""
    for key in ("hromada_engine", "hromada_fast_read_engine"):
        app.extensions[key].dispose()


def engine() -> sa.Engine:
    return current_app.extensions["hromada_engine"]


def connection() -> sa.Connection:
    """A read connection for this request, returned to the pool when the request ends.

    Autocommit: each read is its own statement, with no BEGIN and ROLLBACK round trips around it
    (they tripled the time of a small tile). Writes go through ``engine().begin()``.
    """
    if "db_conn" not in g:
        g.db_conn = engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    return g.db_conn


def _close_connection(_exc=None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        conn.close()
