"""The app's database engines and a connection per request — on the primary, or on a read replica.

Without ``DATABASE_REPLICA_URL`` everything goes to ``DATABASE_URL``, as it always did. With it, a request
for a public read (:data:`PUBLIC_READ_ENDPOINTS`, or a view marked with :func:`public_read`) made with GET
or HEAD by someone anonymous reads from the replica:

* anyone signed in (a staff session, a resident's cabinet, an API token or Basic credentials) reads from the
  primary — staff queues must show what they just did;
* a client that wrote something (any POST/PUT/PATCH/DELETE answered below 400) gets a short-lived cookie
  (``hromada_wrote``, ``HROMADA_READ_YOUR_WRITES`` seconds, default 30) and reads from the primary meanwhile —
  the resident's report page right after filing shows the report;
* the replica is used only while it answers and is no further behind than ``HROMADA_REPLICA_MAX_LAG``
  seconds (default 10), checked at most every ``HROMADA_REPLICA_CHECK_SECONDS`` (default 2) per process;
  a replica whose replay timestamp is old only because the primary is idle (everything received is
  replayed and the WAL receiver is streaming) is not behind;
* a replica that cannot be reached, or fails during the request, sends the request to the primary (the
  view runs again there): never a 5xx because of the replica.

Each answer that used the database says which one in ``X-Database: primary|replica``.

pgbouncer in transaction mode: psycopg 3 prepares a statement on the server after it has run
``prepare_threshold`` times (5) on a connection, and the next transaction may get another server
connection that does not have it. ``HROMADA_PGBOUNCER=1``, or ``?prepare_threshold=none`` (or a number)
in DATABASE_URL / DATABASE_REPLICA_URL, sets ``prepare_threshold=None``: nothing is prepared.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app, g, request, session

from gis.db import make_engine

log = logging.getLogger(__name__)

WROTE_COOKIE = "hromada_wrote"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REPLICA_FAILURES = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError,
                    psycopg.OperationalError, psycopg.InterfaceError)

# The public reads, by blueprint (every GET of it) or by endpoint. Views elsewhere can be marked with
# @public_read. Not here: staff pages, the cabinet, forms, and Open311's token look-up (a client asks it
# right after posting a request, as it asks for the request itself).
PUBLIC_READ_BLUEPRINTS = frozenset({"tiles", "api", "ogc", "wfs", "map_layers", "places_api", "venues_api"})
PUBLIC_READ_ENDPOINTS = frozenset({
    "pages.index", "pages.hromada_list", "pages.hromada_map",
    "open311.root", "open311.discovery", "open311.service_list", "open311.service_definition",
    "open311.request_list", "open311.request_updates",
    "report_pages.report_page", "report_pages.report_photo", "report_pages.report_photo_thumb",
    "reports_api.report_public", "reports_api.report_nearby", "reports_api.report_categories",
})
NOT_PUBLIC_READ_ENDPOINTS = frozenset({"ogc.versionless_edits"})

# Whether the replica is far behind: 0 when nothing is waiting to be replayed and the WAL receiver
# streams (an idle primary sends nothing, so the last replayed transaction may be old); else the age of
# the last replayed transaction; Infinity when nothing was replayed yet. Not a standby at all: 0.
LAG_SQL = sa.text("""
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
       AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
  ELSE COALESCE(EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity')::float8
END
""")


def public_read(view):
    """Mark a view as a public read: anonymous GETs of it may be answered from the replica."""
    view._hromada_public_read = True
    return view


def engine_options(url: str) -> tuple[str, dict]:
    """``url`` without our own parameters, and the engine's options: ``prepare_threshold`` from the URL
    (``none``/``null`` or a number) or ``None`` when HROMADA_PGBOUNCER is set."""
    parsed = sa.engine.make_url(url)
    connect_args: dict = {}
    if "prepare_threshold" in parsed.query:  # taken out of the URL: psycopg would not know it there
        value = parsed.query["prepare_threshold"]
        value = value[-1] if isinstance(value, tuple) else value
        connect_args["prepare_threshold"] = None if value.lower() in ("none", "null", "") else int(value)
        url = parsed.difference_update_query(["prepare_threshold"]).render_as_string(hide_password=False)
    elif os.environ.get("HROMADA_PGBOUNCER", "").lower() in ("1", "true", "yes", "on"):
        connect_args["prepare_threshold"] = None
    return url, {"connect_args": connect_args} if connect_args else {}


def _engine(url: str, **kwargs) -> sa.Engine:
    """An engine of the web app: its requests run serial plans (gis.db.make_engine)."""
    url, options = engine_options(url)
    connect_args = {**options.get("connect_args", {}), **kwargs.pop("connect_args", {})}
    if connect_args:
        kwargs["connect_args"] = connect_args
    return make_engine(url, serial_plans=True, **kwargs)


class Replica:
    """The read replica of one app process: its engines and whether it may be used now."""

    def __init__(self, url: str, max_lag: float, check_every: float):
        self.max_lag = max_lag
        self.check_every = check_every
        # A replica that went away must not hold a request up: connecting gives up after 2 s.
        # As the primary's engine: transactions (a streamed export's server-side cursor needs one);
        # connection() turns autocommit on for its own connection.
        self.engine = _engine(url, connect_args={"connect_timeout": 2})
        self.fast_engine = _engine(url, pool_pre_ping=False, isolation_level="AUTOCOMMIT",
                                   connect_args={"connect_timeout": 2})
        self.tile_engine = _tile_engine(url, connect_args={"connect_timeout": 2})
        self._lock = threading.Lock()
        self._checked = -1e9
        self._usable = False
        self.lag: float | None = None

    def usable(self) -> bool:
        if time.monotonic() - self._checked < self.check_every:
            return self._usable
        if not self._lock.acquire(blocking=False):  # another thread is asking: its last answer meanwhile
            return self._usable
        try:
            self._usable = self._check()
            self._checked = time.monotonic()
        finally:
            self._lock.release()
        return self._usable

    def _check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                self.lag = float(conn.execute(LAG_SQL).scalar_one())
        except REPLICA_FAILURES + (sa.exc.DBAPIError,) as exc:
            if self._usable or self._checked < 0:
                log.warning("the read replica cannot be used (%s); reads go to the primary", exc)
            self.lag = None
            return False
        if self.lag > self.max_lag:
            if self._usable:
                log.warning("the read replica is %.1f s behind (more than %s s); reads go to the primary",
                            self.lag, self.max_lag)
            return False
        return True

    def failed(self) -> None:
        """A request could not use it: the primary until the next check."""
        self._usable = False
        self._checked = time.monotonic()

    def dispose(self) -> None:
        self.engine.dispose()
        self.fast_engine.dispose()
        self.tile_engine.dispose()


def _tile_engine(url: str, **kwargs) -> sa.Engine:
    """The pool of the tiles' fast path: autocommit, no ping before each use (see webmap.tiles), and the
    one generic plan of each prepared statement (gis.db.make_engine's ``generic_plans``): a tile's best
    plan does not depend on where the tile is, and on a national data set PostgreSQL otherwise planned
    every feature tile afresh (a z15 parcel tile 0.89 → 0.47 ms). A pool of its own, because the other
    public reads (a page of features: 5 → 7.5 ms generic) are better planned for their values. Not
    through pgbouncer (nothing prepared there): a session's setting would reach other clients' statements."""
    prepared = engine_options(url)[1].get("connect_args", {}).get("prepare_threshold", 5) is not None
    return _engine(url, pool_pre_ping=False, isolation_level="AUTOCOMMIT", generic_plans=prepared, **kwargs)


class TileReadEngine:
    """What the tile fast path (webmap.tiles.TileFastPath) reads through: the replica's tile connections
    while it may be used, else the primary's. A tile that fails on it falls through to the Flask route,
    which chooses again."""

    def __init__(self, primary: sa.Engine, replica: Replica):
        self.primary, self.replica = primary, replica

    def raw_connection(self):
        if self.replica.usable():
            try:
                return self.replica.tile_engine.raw_connection()
            except REPLICA_FAILURES + (sa.exc.DBAPIError,):
                self.replica.failed()
        return self.primary.raw_connection()

    def dispose(self) -> None:
        self.primary.dispose()
        self.replica.tile_engine.dispose()


def _float_setting(app: Flask, name: str, default: float) -> float:
    value = app.config.get(name, os.environ.get(name))
    return float(value) if value not in (None, "") else default


def init_app(app: Flask) -> None:
    app.extensions["hromada_engine"] = _engine(app.config["DATABASE_URL"])
    # Public reads that must be cheap: autocommit, and no ping before each use (see webmap.tiles).
    primary_fast = _engine(app.config["DATABASE_URL"], pool_pre_ping=False, isolation_level="AUTOCOMMIT")
    primary_tiles = _tile_engine(app.config["DATABASE_URL"])
    replica_url = app.config.get("DATABASE_REPLICA_URL", os.environ.get("DATABASE_REPLICA_URL"))
    replica = None
    if replica_url:
        replica = Replica(replica_url, _float_setting(app, "HROMADA_REPLICA_MAX_LAG", 10.0),
                          _float_setting(app, "HROMADA_REPLICA_CHECK_SECONDS", 2.0))
        app.config.setdefault("HROMADA_READ_YOUR_WRITES", _float_setting(app, "HROMADA_READ_YOUR_WRITES", 30.0))
    app.extensions["hromada_replica"] = replica
    app.extensions["hromada_tile_read_engine"] = TileReadEngine(primary_tiles, replica) if replica else primary_tiles
    app.extensions["hromada_primary_fast_read_engine"] = primary_fast
    app.extensions["hromada_primary_tile_read_engine"] = primary_tiles
    app.teardown_appcontext(_close_connection)
    app.after_request(_after_request)
    app.dispatch_request = _read_again(app.dispatch_request)


def dispose(app: Flask) -> None:
    """Close the app's pooled connections (a test's app, a stopping server)."""
    for key in ("hromada_engine", "hromada_primary_fast_read_engine", "hromada_primary_tile_read_engine"):
        app.extensions[key].dispose()
    if app.extensions.get("hromada_replica") is not None:
        app.extensions["hromada_replica"].dispose()


def engine() -> sa.Engine:
    """The primary: writes (``engine().begin()``), and reads that must see them."""
    return current_app.extensions["hromada_engine"]


def replica() -> Replica | None:
    return current_app.extensions.get("hromada_replica")


def _public_read() -> bool:
    """Whether this request is a GET or HEAD of a public read (PUBLIC_READ_*, @public_read)."""
    if request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "_hromada_public_read", False) or request.endpoint in PUBLIC_READ_ENDPOINTS or (
        request.blueprint in PUBLIC_READ_BLUEPRINTS and request.endpoint not in NOT_PUBLIC_READ_ENDPOINTS)


def _may_use_replica() -> bool:
    rep = replica()
    if rep is None or g.get("db_primary_only") or not _public_read():
        return False
    # Whoever is signed in, or wrote something a moment ago, sees the primary (their own changes).
    if "Authorization" in request.headers or request.cookies.get(WROTE_COOKIE):
        return False
    if request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME", "session")) and (
            session.get("user_id") or session.get("resident_email")):
        return False
    return rep.usable()


def read_engine() -> sa.Engine:
    """The engine for a read of this request that runs on connections of its own (a streamed export):
    the replica when :func:`connection` would use it, else the primary."""
    if _may_use_replica():
        try:  # checked out and pinged now: a streamed answer cannot go to the primary half-way through
            replica().engine.connect().close()
            g.setdefault("db_role", "replica")
            return replica().engine
        except REPLICA_FAILURES + (sa.exc.DBAPIError,) as exc:
            log.warning("the read replica failed (%s); this request reads from the primary", exc)
            replica().failed()
    g.setdefault("db_role", "primary")
    return engine()


def connection() -> sa.Connection:
    """A read connection for this request, returned to the pool when the request ends.

    Autocommit: each read is its own statement, with no BEGIN and ROLLBACK round trips around it
    (they tripled the time of a small tile). Writes go through ``engine().begin()``. A public read
    may get the replica (see the module's docstring).

    A public read (GET or HEAD) takes its connection from the pool the tiles' fast path uses: in
    autocommit already, and not pinged before use (the ping is a round trip, as long as a small read).
    A connection found dead during the request (the database restarted) is dropped and the request is
    read again on a pinged one (:func:`_read_again`): a GET, so no harm.
    """
    if "db_conn" not in g:
        fast = not g.get("db_ping") and _public_read()
        if _may_use_replica():
            try:
                rep = replica()
                g.db_conn = _read_connection(rep.fast_engine if fast else rep.engine, fast)
                g.db_role, g.db_fast = "replica", fast
                return g.db_conn
            except REPLICA_FAILURES + (sa.exc.DBAPIError,) as exc:
                log.warning("the read replica failed (%s); this request reads from the primary", exc)
                replica().failed()
        primary = current_app.extensions["hromada_primary_fast_read_engine"] if fast else engine()
        g.db_conn = _read_connection(primary, fast)
        g.db_role, g.db_fast = "primary", fast
    return g.db_conn


def fast_read_connection(app: Flask) -> tuple[sa.Connection, str]:
    """For an answer made without Flask (webmap.fast_items: an anonymous client, who wrote nothing): a
    connection of the unpinged autocommit pool, on the replica while it may be used, and which database
    that is (``replica`` or ``primary``)."""
    rep = app.extensions.get("hromada_replica")
    if rep is not None and rep.usable():
        try:
            return rep.fast_engine.connect(), "replica"
        except REPLICA_FAILURES + (sa.exc.DBAPIError,) as exc:
            log.warning("the read replica failed (%s); this request reads from the primary", exc)
            rep.failed()
    return app.extensions["hromada_primary_fast_read_engine"].connect(), "primary"


def _read_connection(from_engine: sa.Engine, autocommit_engine: bool) -> sa.Connection:
    conn = from_engine.connect()
    return conn if autocommit_engine else conn.execution_options(isolation_level="AUTOCOMMIT")


def _read_again(dispatch):
    """Run a public read again when its connection failed during it (a GET: no harm): on the primary
    when the replica failed, on a pinged connection when an unpinged pooled one was found dead."""

    @functools.wraps(dispatch)
    def dispatch_request():
        try:
            return dispatch()
        except REPLICA_FAILURES as exc:
            if g.get("db_role") == "replica":
                log.warning("the read replica failed during %s %s (%s); answering from the primary",
                            request.method, request.path, exc)
                replica().failed()
                g.db_primary_only = True
            elif g.get("db_fast") and getattr(exc, "connection_invalidated", False):
                log.warning("a pooled database connection was lost (%s); %s %s is read again on a new one",
                            exc, request.method, request.path)
                g.db_ping = True
            else:
                raise
            _close_connection()
            g.pop("db_role", None)
            g.pop("db_fast", None)
            return dispatch()

    return dispatch_request


def _after_request(response):
    role = g.get("db_role")
    if role:
        response.headers["X-Database"] = role
    if (request.method not in SAFE_METHODS and response.status_code < 400
            and current_app.extensions.get("hromada_replica") is not None):
        seconds = int(current_app.config.get("HROMADA_READ_YOUR_WRITES", 30))
        response.set_cookie(WROTE_COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def _close_connection(_exc=None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        try:
            conn.close()
        except REPLICA_FAILURES:
            pass
