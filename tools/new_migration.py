"""Autogenerate the next Alembic migration from the declarations (models + layers).

    .venv/bin/python tools/new_migration.py "road segments and lamps"

Runs a scratch cluster of its own (``/tmp/hromada-migrations``, port 5499), brings a fresh
database to head and diffs it against ``gis.models.metadata``. Read what it writes before you
commit it: Alembic cannot see triggers, sequences' defaults or data changes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis import db  # noqa: E402
from gis.embedded import EmbeddedPostgres  # noqa: E402

SCRATCH = Path("/tmp/hromada-migrations")


def main(message: str) -> None:
    cluster = EmbeddedPostgres(SCRATCH, 5499)
    cluster.start()
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS migrations_scratch WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE migrations_scratch"))
    engine = db.make_engine(cluster.url("migrations_scratch"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    db.upgrade(engine)
    versions = sorted((db.MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    number = int(versions[-1].name[:4]) + 1 if versions else 1
    slug = "_".join(message.lower().split())[:40]
    command.revision(db.alembic_config(engine), message=message, autogenerate=True,
                     rev_id=f"{number:04d}", )
    print(f"written: migration {number:04d} ({slug})")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
