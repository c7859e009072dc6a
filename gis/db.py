"""Where the database is, how to connect, and how to bring its schema up to date.

``DATABASE_URL`` names an external PostGIS; otherwise the embedded cluster (gis.embedded) is used
and started on demand. Schema changes go through Alembic migrations in ``gis/migrations``.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from gis import config
from gis.embedded import EmbeddedPostgres, reachable_data_dir

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the usual ``postgresql://`` / ``postgres://`` forms and use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def embedded_cluster() -> EmbeddedPostgres:
    """The project's cluster: HROMADA_PGDATA as given, else var/postgres — or, when root runs us
    from a folder the server user cannot enter, a folder of our own under /var/lib/hromada-gis."""
    data_dir = config.pgdata_dir()
    if not config.pgdata_from_env():
        data_dir = reachable_data_dir(data_dir)
    return EmbeddedPostgres(data_dir, config.pg_port())


def database_url(start_embedded: bool = True) -> str:
    """The URL to use: DATABASE_URL when set, else the embedded cluster (started if asked)."""
    external = config.database_url_from_env()
    if external:
        return normalize_url(external)
    cluster = embedded_cluster()
    if start_embedded:
        cluster.start()
    return cluster.url()


@contextlib.contextmanager
def transaction(bind: sa.Engine | sa.Connection):
    """A transaction on an engine, or a savepoint inside a connection's own one — so a loader can
    run alone or as one step of a larger all-or-nothing load."""
    if isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            yield conn
    else:
        with bind.begin_nested():
            yield bind


# A pooled connection taken again within this many seconds of its last use is not pinged first (see
# make_engine): under load the ping was a round trip per request — 0.14 ms of the app's CPU and the
# server's part besides, about 7 % of a report's intake. A server that restarted was down longer than this.
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, *, serial_plans: bool = False, generic_plans: bool = False, always_ping: bool = False,
                **kwargs) -> sa.Engine:
    """An engine that checks a pooled connection idle for more than PING_AFTER_IDLE_SECONDS before use
    (a restarted server costs no request; ``pool_pre_ping=False``: never; ``always_ping``: on every
    checkout, as for a batch job's workers, whose tasks nothing runs again), its connections without JIT
    compilation (``jit = off``). PostgreSQL JIT-compiles any query it estimates as costly, and PostGIS
    functions declare high costs: the venue search spent 170 ms compiling a 50 ms query on each of a
    connection's first ten runs. The service's queries are short; JIT never paid.

    ``serial_plans``: no parallel query either (``max_parallel_workers_per_gather = 0``), for the web
    app's requests: at national size the planner expects thousands of a hromada's reports and starts
    parallel workers, which cost 15–20 ms to launch — a dashboard figure took 22 ms instead of 0.4 ms
    serially — and a server busy with requests has no idle cores for them anyway (issue #20).

    ``generic_plans``: a prepared statement always runs the plan made once for any parameters
    (``plan_cache_mode = force_generic_plan``; PostgreSQL applies it to unprepared statements too), for
    the tiles' pool (webmap.database): a tile's best plan does not depend on where the tile is. Left to
    choose, PostgreSQL keeps planning a tile afresh on a national data set — its guess for a box it
    cannot see is a share of a million parcels, so the one plan looks dearer than each fresh one — at
    ≈ 0.3 ms a tile (issue #20)."""
    ping = kwargs.pop("pool_pre_ping", True)
    engine = sa.create_engine(normalize_url(url), **kwargs)
    settings = (("jit = off",) + (("max_parallel_workers_per_gather = 0",) if serial_plans else ())
                + (("plan_cache_mode = force_generic_plan",) if generic_plans else ()))
    sa.event.listen(engine, "connect", functools.partial(_session_settings, settings))
    if ping:
        sa.event.listen(engine, "connect", _last_used_now)
        sa.event.listen(engine, "checkin", _last_used_now)
        sa.event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect, always_ping))
    return engine


def _last_used_now(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["hromada_last_used"] = time.monotonic()


def _ping_if_idle(dialect, always: bool, dbapi_connection, record, _proxy) -> None:
    """SQLAlchemy's ``pool_pre_ping`` (the dialect's own ping), for a connection idle longer than
    PING_AFTER_IDLE_SECONDS only (``always``: any). A dead one raises DisconnectionError: the pool drops it
    and checks out another (SQLAlchemy's documented use of the ``checkout`` event)."""
    if not always and time.monotonic() - record.info.get("hromada_last_used", 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DisconnectionError(f"the pooled connection is gone: {exc}") from exc
    if not alive:
        raise sa.exc.DisconnectionError("the pooled connection is gone")


def _session_settings(settings: tuple[str, ...], dbapi_connection, _record) -> None:
    """``SET`` each of ``settings`` for the session of a new connection."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET inside a transaction that is rolled back would not last
    for setting in settings:
        dbapi_connection.execute(f"SET {setting}")
    dbapi_connection.autocommit = autocommit


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What Alembic's comparison looks at: not the geography expression indexes
    (``Layer.geography_index``, ``ix_*_geog``), which it cannot compare; migrations create them."""
    return not (type_ == "index" and name and name.endswith("_geog"))


def alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``, then bring what is generated from the layer
    declarations in step with them: the history triggers (layers.history.sync_triggers) and the tile
    clusters' triggers and cells (layers.tile_cells.sync) — a layer that starts keeping history or
    being clustered, or a table a migration made again, gets its triggers here."""
    command.upgrade(alembic_config(engine), revision)
    from layers import history, registry, tile_cells  # noqa: F401  (every layer declared)

    with engine.begin() as conn:
        history.sync_triggers(conn)
        tile_cells.sync(conn)


def downgrade(engine: sa.Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
