"""Test fixtures: a real throwaway PostGIS for the whole session, a clean database per test.

Without DATABASE_URL the session starts its own embedded cluster (never the `make run` one) in a
temporary folder on a free port. With DATABASE_URL it creates a database of its own on that server
(the role needs CREATEDB) and drops it at the end, so no existing data is touched.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis import db
from gis.embedded import EmbeddedPostgres, free_port
from gis.models import metadata
import layers.registry  # noqa: F401  (all tables, generated ones too, are in the metadata)
from layers.categories import sync_categories
from layers.plans import sync_zone_classes

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
UKRAINE = SHARED_DATA / "ukraine"


def _temp_dir(prefix: str) -> Path:
    # Not pytest's tmp_path: its parent is private to root, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
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


@pytest.fixture(scope="session")
def database_url():
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
        yield url
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        return
    folder = _temp_dir("hromada-test-pg-")
    cluster = EmbeddedPostgres(folder / "data", free_port(), dbname=name, fast=True)
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(database_url):
    eng = db.make_engine(database_url)
    db.upgrade(eng)
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
def clean_db(engine):
    """The session database, emptied and with the category catalogue, for one test."""
    truncate_all(engine)
    return engine


@pytest.fixture
def demo_db(clean_db):
    from importers.demo import load_demo

    load_demo(clean_db, SHARED_DATA)
    return clean_db


@pytest.fixture
def app(clean_db, database_url):
    from webmap import create_app, database

    application = create_app({"DATABASE_URL": database_url, "TESTING": True,
                              "SECRET_KEY": "test-secret"})
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
