"""Test fixtures: a real throwaway PostGIS for the whole session, a clean database per test.

Without DATABASE_URL the session starts its own embedded cluster (never the `make run` one) in a
temporary folder on a free port. With DATABASE_URL it creates a database of its own on that server
(the role needs CREATEDB), and its templates beside it, and drops them at the end, so no existing
data is touched. Each test's database is a copy of a template made once (SessionDatabases).

Tests driving Chromium (the ``browser`` and ``page`` fixtures) are marked ``browser``:
``pytest -m "not browser"`` leaves them out for a quick local run; CI runs everything.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import layers.registry  # noqa: F401  (all tables, generated ones too, are in the metadata)
from gis import db
from gis.embedded import EmbeddedPostgres, free_port
from gis.models import metadata
from layers.categories import sync_categories
from layers.plans import sync_zone_classes

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
UKRAINE = SHARED_DATA / "ukraine"


# The longest tests (half a minute to over a minute each on 2 cores) start first: pytest-xdist's
# worksteal deals the collection out in order and then moves the not yet started tests from a busy
# worker to an idle one; a long test begun last would keep one worker running alone at the end.
LONG_FIRST = (
    "tests/webmap/test_openapi.py::test_the_ogc_api_answers_no_server_error",
    "tests/webmap/test_openapi.py::test_the_json_apis_keep_to_their_description",
    "tests/webmap/test_feature_editor.py::test_editor_pages_pass_axe_and_fit_320_px",
    "tests/webmap/test_narrow_screens.py::test_no_public_page_scrolls_sideways_at_320_px",
    "tests/webmap/test_plan_create.py::test_plan_forms_pass_axe_and_fit_320_px",
    "tests/webmap/test_console.py::test_console_pages_pass_axe",
    "tests/gis/test_embedded.py::test_cli_status_start_stop_tell_the_truth",
    "tests/webmap/test_going_live.py::test_a_hromada_goes_live_and_its_first_pothole_reaches_the_outside_body",
    "tests/webmap/test_land_pages.py::test_land_pages_pass_axe",
    "tests/importers/test_communities.py::test_all_1466_hromadas_load_valid_and_reloading_changes_nothing",
    "tests/importers/test_import.py::test_wrong_crs_is_stopped_and_named",
    "tests/webmap/test_accounts_pages.py::test_accepting_an_invitation_in_the_browser",
    "tests/webmap/test_plan_pages.py::test_plan_pages_pass_axe_for_planners",
    "tests/qgis/test_qgis_editing.py::test_qgis_322_reads_and_edits_the_draft_plan",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):  # `page` uses `browser` too
            item.add_marker(pytest.mark.browser)
    # A stable sort: the same order in every worker, as xdist requires; nothing else moves.
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))


# The clusters live in memory where there is room (tmpfs at /dev/shm; a container's default 64 MB is
# not): each test's database copy is written there, and on a disk shared with other work that copy
# waited for the disk (a 20 MB copy took 0.3 s instead of 0.04 s). HROMADA_TEST_PGDIR chooses a folder.
MEMORY = Path("/dev/shm")
MEMORY_NEEDED = 1 << 30  # some 150 MB a worker


def _cluster_parent() -> str | None:
    chosen = os.environ.get("HROMADA_TEST_PGDIR")
    if chosen:
        return chosen
    try:
        if MEMORY.is_dir() and os.access(MEMORY, os.W_OK) and shutil.disk_usage(MEMORY).free >= MEMORY_NEEDED:
            return str(MEMORY)
    except OSError:
        pass
    return None  # the system's temporary folder


def _temp_dir(prefix: str) -> Path:
    # Not pytest's tmp_path: its parent is private to root, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=_cluster_parent()))
    folder.chmod(0o711)  # the server user must be able to pass through to the data folder
    return folder


@pytest.fixture(scope="session", autouse=True)
def raster_store():
    """Rasters the tests import (the demo's too) go to a folder of the session, not var/rasters."""
    folder = Path(tempfile.mkdtemp(prefix="hromada-test-rasters-"))
    previous = os.environ.get("HROMADA_RASTER_DIR")
    os.environ["HROMADA_RASTER_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("HROMADA_RASTER_DIR", None)
    else:
        os.environ["HROMADA_RASTER_DIR"] = previous
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Passwords hashed with argon2id at its lowest cost (``argon2.profiles.CHEAPEST``) in the test
    processes: the same hashing and checking code, but 0.2 ms instead of 0.2 s for each hash and each
    sign-in, which hundreds of tests pay (a fixture with four accounts took a second)."""
    import argon2

    from gis import users

    saved = users._hasher, users._DUMMY_HASH
    users._hasher = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
    users._DUMMY_HASH = users._hasher.hash("no such user")
    yield
    users._hasher, users._DUMMY_HASH = saved


class SessionDatabases:
    """The session's database and the templates each test's copy of it is made from.

    Every test that asks for ``clean_db`` (or ``demo_db``) gets the session database afresh, as a
    copy of a template made once per session: ``<name>_clean`` (migrated, emptied, the category
    catalogue) or ``<name>_demo`` (that plus the demo community). A copy takes some 50 ms where
    TRUNCATE took 100 ms and loading the demo 2-3 s, and it keeps ids and sequences as a fresh
    load would. The name and URL stay the same, so the session engine, the apps and the CLI tests
    all keep pointing at it; pools are disposed before the old copy is dropped.
    """

    def __init__(self, url: str, admin_dsn: str, *, shared_server: bool = False):
        import psycopg

        self.url = url
        self._shared_server = shared_server
        self.name = make_url(url).database
        self.clean = f"{self.name}_clean"
        self.demo = f"{self.name}_demo"
        self.demo_rasters: Path | None = None  # the demo's raster files, copied into each test's store
        self._admin = psycopg.connect(admin_dsn, autocommit=True)
        # STRATEGY FILE_COPY (PostgreSQL 15+) copies a small database faster than WAL_LOG, the default;
        # before 15 a file copy is the only way.
        self._strategy = " STRATEGY FILE_COPY" if self._admin.info.server_version >= 150000 else ""
        self._templates: set[str] = set()
        # The template the session database was last copied from, and the cluster's WAL position
        # right after: while nothing has written WAL since, that copy is still untouched.
        self._untouched: tuple[str, str] | None = None

    def _execute(self, statement: str, *names: str) -> None:
        from psycopg import sql

        self._admin.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))

    def _copy(self, template: str, target: str) -> None:
        self._execute("CREATE DATABASE {} TEMPLATE {}" + self._strategy, target, template)

    def _freeze(self, template: str) -> None:
        """No connections to a template: a stray one would make every copy of it fail."""
        self._execute("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false", template)
        self._templates.add(template)

    def make_clean_template(self, engine: sa.Engine) -> None:
        truncate_all(engine)
        engine.dispose()
        self._copy(self.name, self.clean)
        self._freeze(self.clean)

    def make_demo_template(self) -> None:
        from importers.demo import load_demo

        self._copy(self.clean, self.demo)
        self.demo_rasters = Path(tempfile.mkdtemp(prefix="hromada-test-demo-rasters-"))
        previous = os.environ.get("HROMADA_RASTER_DIR")
        os.environ["HROMADA_RASTER_DIR"] = str(self.demo_rasters)
        eng = db.make_engine(make_url(self.url).set(database=self.demo).render_as_string(hide_password=False))
        try:
            load_demo(eng, SHARED_DATA)
        finally:
            eng.dispose()
            if previous is None:
                os.environ.pop("HROMADA_RASTER_DIR", None)
            else:
                os.environ["HROMADA_RASTER_DIR"] = previous
        self._freeze(self.demo)

    def restore(self, engine: sa.Engine, demo: bool) -> None:
        """The session database as a fresh copy of the clean or the demo template."""
        if demo and self.demo not in self._templates:
            self.make_demo_template()
        template = self.demo if demo else self.clean
        engine.dispose()
        # FORCE ends what a test left connected (a CLI's engine, a pool nobody disposed), but then waits
        # for them in steps of 100 ms, and a connection just closed is often still leaving: ended and
        # waited for here first, DROP finds nobody. Every test starts with no connection of an earlier
        # one, whether its database is copied again or not.
        self._end_connections()
        # A test that only read leaves the copy as it was made: no change to
        # any table, sequence or catalogue of the cluster (this worker's alone) happens without WAL,
        # so an unmoved WAL position proves it, and the copy serves the next test as it is. Anything
        # else moving it (a checkpoint, autovacuum) only costs a copy.
        position = self._wal_position()
        if position is not None and self._untouched == (template, position):
            return
        self._execute("DROP DATABASE {} WITH (FORCE)", self.name)
        self._copy(template, self.name)
        self._untouched = (template, self._wal_position())

    def _end_connections(self) -> None:
        """Ends every connection to the session database and returns once they are gone. Watched here
        every millisecond: pg_terminate_backend's own wait looks again only after 100 ms, and a
        connection a test's engine has just closed is still leaving half the time (measured: 100 ms
        in every other test, 1-4 ms this way)."""
        others = "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        self._admin.execute(f"SELECT pg_terminate_backend(pid) {others}", (self.name,))
        deadline = time.monotonic() + 10
        while self._admin.execute(f"SELECT count(*) {others}", (self.name,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"connections to {self.name} still open 10 s after they were ended")
            time.sleep(0.001)

    def _wal_position(self) -> str | None:
        if self._admin.info.server_version < 100000 or self._shared_server:
            return None  # on a shared server (DATABASE_URL) others write WAL too: always copy
        return self._admin.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]

    def copy_demo_rasters(self) -> None:
        """The demo's raster files into the raster store of this test, as loading the demo put them."""
        from importers.rasters import raster_store

        store = raster_store()
        for source in self.demo_rasters.rglob("*"):
            if source.is_file():
                target = store / source.relative_to(self.demo_rasters)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)

    def close(self, drop_all: bool) -> None:
        try:
            if drop_all:
                for name in (self.name, *self._templates):
                    self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
        finally:
            self._admin.close()
            if self.demo_rasters:
                shutil.rmtree(self.demo_rasters, ignore_errors=True)


@pytest.fixture(scope="session")
def session_databases():
    external = os.environ.get("DATABASE_URL")
    name = f"hromada_test_{secrets.token_hex(4)}"
    if external:
        import psycopg
        from psycopg import sql

        admin_url = make_url(db.normalize_url(external))
        dsn = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        databases = SessionDatabases(url, dsn, shared_server=True)
        try:
            yield databases
        finally:
            databases.close(drop_all=True)  # the templates too: nothing of ours stays on that server
        return
    folder = _temp_dir("hromada-test-pg-")
    cluster = EmbeddedPostgres(folder / "data", free_port(), dbname=name, fast=True)
    cluster.start()
    try:
        databases = SessionDatabases(cluster.url(), cluster.url("postgres").replace("+psycopg", ""))
        try:
            yield databases
        finally:
            databases.close(drop_all=False)  # the whole cluster goes
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(session_databases):
    return session_databases.url


@pytest.fixture(scope="session")
def engine(session_databases):
    eng = db.make_engine(session_databases.url)
    db.upgrade(eng)
    session_databases.make_clean_template(eng)
    yield eng
    eng.dispose()


def truncate_all(eng: sa.Engine) -> None:
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with eng.begin() as conn:
        # A connection a test forgot to close would block TRUNCATE for ever: fail loudly instead.
        conn.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        sync_categories(conn)
        sync_zone_classes(conn)


@pytest.fixture
def clean_db(engine, session_databases, request):
    """The session database, emptied and with the category catalogue, for one test.

    A test that also asks for ``demo_db`` (itself or through another fixture) gets the demo
    template's copy here already, before an app or anything else connects: ``demo_db`` follows
    ``clean_db``, and the copy is made once, at the start."""
    session_databases.restore(engine, demo="demo_db" in request.fixturenames)
    return engine


@pytest.fixture
def demo_db(clean_db, session_databases):
    """The clean database with the demo community (``importers.demo.load_demo``), and the demo's
    raster files in the raster store of the test."""
    session_databases.copy_demo_rasters()
    return clean_db


@pytest.fixture(scope="session")
def _session_app(database_url):
    """One app per test process: building one compiles its 150 URL rules (a quarter of a second,
    which 500 tests paid each). ``app`` hands it out reset to how it was built."""
    from webmap import create_app

    application = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret"})
    return application, dict(application.config)


@pytest.fixture
def app(clean_db, _session_app):
    """The app on this test's fresh database: its settings as built (a test may change them for
    itself), no rate-limit counts and no tiles remembered from an earlier test, no pooled connection
    to the database copy an earlier test had."""
    from webmap import database
    from webmap.extensions import limiter
    from webmap.tiles import tile_memory

    application, settings = _session_app
    application.config.clear()
    application.config.update(settings)
    tile_memory(application).clear()
    with application.app_context():
        limiter.reset()
    database.dispose(application)
    yield application
    database.dispose(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scratch_cluster():
    """A new, not yet created embedded cluster in a temporary folder (for life-cycle tests)."""
    folder = _temp_dir("hromada-scratch-pg-")
    cluster = EmbeddedPostgres(folder / "data", free_port(), fast=True)
    yield cluster
    try:
        cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class MailStore:
    """What the SMTP server received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "message": message,
                              "subject": str(message["Subject"]), "message_id": message["Message-ID"],
                              "body": message.get_content()})
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if address in m["to"]]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; yields (settings, store)."""
    from aiosmtpd.controller import Controller

    from gis.outbox import SmtpSettings

    store = MailStore()
    controller = Controller(store, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5), store
    finally:
        controller.stop()
