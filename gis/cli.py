"""``hromada db …``: the embedded PostGIS life-cycle and migrations."""
from __future__ import annotations

import sys

import click

from gis import config, db


@click.group("db")
def db_group():
    """Embedded PostGIS (or DATABASE_URL) and its schema."""


def _external() -> bool:
    return config.database_url_from_env() is not None


@db_group.command("start")
def start():
    """Start the embedded cluster (create it first if needed)."""
    if _external():
        click.echo("DATABASE_URL задано: вбудована база не запускається / DATABASE_URL is set: nothing to start")
        return
    cluster = db.embedded_cluster()
    cluster.start()
    click.echo(cluster.status().describe("uk"))


@db_group.command("stop")
def stop():
    """Stop the embedded cluster."""
    if _external():
        click.echo("DATABASE_URL задано: вбудована база не використовується / DATABASE_URL is set: nothing to stop")
        return
    stopped = db.embedded_cluster().stop()
    click.echo("зупинено / stopped" if stopped else "не працювала / was not running")


@db_group.command("status")
def status():
    """Say whether the database is running; exit 3 when it is not (like pg_ctl)."""
    if _external():
        import sqlalchemy as sa

        url = db.normalize_url(config.database_url_from_env())
        try:
            with db.make_engine(url).connect() as conn:
                version = conn.execute(sa.text(
                    "SELECT 'PostgreSQL ' || current_setting('server_version') || ', PostGIS ' || postgis_lib_version()"
                )).scalar()
        except Exception as exc:  # any driver error means "not reachable"
            click.echo(f"зовнішня база недоступна / external database unreachable: {exc}")
            sys.exit(3)
        click.echo(f"зовнішня база працює / external database is up: {version}")
        return
    st = db.embedded_cluster().status()
    click.echo(st.describe("uk"))
    click.echo(st.describe("en"))
    if not st.running:
        sys.exit(3)


@db_group.command("url")
def url():
    """Print the SQLAlchemy URL of the database (starts nothing)."""
    click.echo(db.database_url(start_embedded=False))


@db_group.command("migrate")
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str):
    """Bring the schema up to REVISION and sync reference data (categories)."""
    from layers.categories import sync_categories
    from layers.plans import sync_zone_classes

    engine = db.make_engine(db.database_url())
    db.upgrade(engine, revision)
    if revision == "head":
        with engine.begin() as conn:
            sync_categories(conn)
            sync_zone_classes(conn)
    click.echo(f"схема / schema: {db.current_revision(engine)}")


@db_group.command("downgrade")
@click.argument("revision")
def downgrade(revision: str):
    """Take the schema down to REVISION ("base" removes every table)."""
    engine = db.make_engine(db.database_url())
    db.downgrade(engine, revision)
    click.echo(f"схема / schema: {db.current_revision(engine) or 'base'}")


@click.group("users")
def users_group():
    """Staff, planner and admin accounts."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["resident", "unit_staff", "planner", "admin"]), help="Repeatable.")
@click.option("--name", "full_name", default=None)
@click.option("--hromada", "katottg", default=config.DEMO_KATOTTG, show_default=True,
              help="KATOTTG of the hromada whose units are named with --unit.")
@click.option("--unit", "units", multiple=True, help="Unit code the staff member works for (repeatable).")
@click.password_option(envvar="HROMADA_NEW_PASSWORD")
def add_user(email, roles, full_name, katottg, units, password):
    """Create an account. The password is asked for (or read from HROMADA_NEW_PASSWORD)."""
    from gis.users import create_user, unit_ids_by_code

    engine = db.make_engine(db.database_url())
    with engine.begin() as conn:
        unit_ids = unit_ids_by_code(conn, katottg, list(units)) if units else []
        user_id = create_user(conn, email, password, list(roles), full_name=full_name, unit_ids=unit_ids)
    click.echo(f"користувач / user {email}: id {user_id}, {', '.join(roles)}")


from gis.user_tokens_cli import token_group  # noqa: E402  (hromada users token create|list|revoke)

users_group.add_command(token_group)
