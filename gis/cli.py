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
    """Staff, planner, admin and operator accounts."""


def _users_transaction(work):
    """``work(conn)`` in one transaction of the service's database; its result."""
    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


@users_group.command("add")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["operator", "admin", "unit_staff", "planner"]), help="Repeatable.")
@click.option("--name", "full_name", default=None)
@click.option("--hromada", "katottg", default=config.DEMO_KATOTTG, show_default=True,
              help="KATOTTG of the hromada where the roles admin, unit_staff and planner are held and whose "
                   "units --unit names (the operator's role is national).")
@click.option("--unit", "units", multiple=True, help="Unit code the staff member works for (repeatable).")
@click.password_option(envvar="HROMADA_NEW_PASSWORD")
def add_user(email, roles, full_name, katottg, units, password):
    """Create an account with a password (the first operator; demo accounts). The password is asked
    for (or read from HROMADA_NEW_PASSWORD). Everyone else is invited: `hromada users invite`."""
    from gis import audit
    from gis.hromadas import hromada_by_katottg
    from gis.models import HROMADA_ROLES
    from gis.users import create_user, unit_ids_by_code

    def work(conn):
        local = [r for r in roles if r in HROMADA_ROLES]
        hromada_id = hromada_by_katottg(conn, katottg)["id"] if local or units else None
        unit_ids = unit_ids_by_code(conn, katottg, list(units)) if units else []
        user_id = create_user(conn, email, password, list(roles), hromada_id=hromada_id, full_name=full_name,
                              unit_ids=unit_ids)
        audit.record(conn, audit.CLI, "account.create", hromada_id=hromada_id, object=email.strip(),
                     detail={"roles": sorted(roles), "unit_ids": unit_ids})
        return user_id

    user_id = _users_transaction(work)
    click.echo(f"користувач / user {email.strip()}: id {user_id}, {', '.join(roles)}")


@users_group.command("invite")
@click.argument("email")
@click.option("--hromada", "katottg", required=True, help="KATOTTG of the hromada where the roles are held.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "unit_staff", "planner"]), help="Repeatable.")
@click.option("--unit", "units", multiple=True, help="Unit code the staff member works for (repeatable).")
@click.option("--name", "full_name", default=None)
@click.option("--public-url", envvar="HROMADA_PUBLIC_URL", default="http://127.0.0.1:5000", show_default=True,
              help="The site's address, for the link (HROMADA_PUBLIC_URL).")
def invite_user(email, katottg, roles, units, full_name, public_url):
    """Invite EMAIL to hold roles in a hromada: a mail with a one-time link to set a password is
    queued (the worker sends it), and the link is printed too — the first administrator's server
    may have no mail set up yet."""
    from gis import audit
    from gis.accounts import invite_lifetime, invite_with_link
    from gis.hromadas import hromada_by_katottg
    from gis.users import unit_ids_by_code

    def work(conn):
        place = hromada_by_katottg(conn, katottg)
        unit_ids = unit_ids_by_code(conn, katottg, list(units)) if units else []
        return invite_with_link(conn, email=email, roles=list(roles), hromada_id=place["id"], unit_ids=unit_ids,
                                by=audit.CLI, public_url=public_url, full_name=full_name)

    invitation = _users_transaction(work)
    click.echo(f"запрошено / invited {email.strip()} ({', '.join(roles)}, {katottg}): id {invitation.user_id}")
    if invitation.link:
        days = invite_lifetime().days
        click.echo(f"посилання, дійсне {days} дн. / link, valid for {days} days:")
        click.echo(invitation.link)
    else:
        click.echo("обліковий запис уже мав пароль: ролі додано / the account had a password already: roles added")


@users_group.command("deactivate")
@click.argument("email")
def deactivate_user(email):
    """Switch the account off: its sessions and API tokens stop at once; it cannot sign in."""
    from gis import audit
    from gis.accounts import deactivate, user_id_by_email

    _users_transaction(lambda conn: deactivate(conn, user_id_by_email(conn, email), None, audit.CLI))
    click.echo(f"вимкнено / switched off: {email.strip()}")


@users_group.command("reactivate")
@click.argument("email")
def reactivate_user(email):
    """Switch a deactivated account on again (its API tokens stay revoked)."""
    from gis import audit
    from gis.accounts import reactivate, user_id_by_email

    _users_transaction(lambda conn: reactivate(conn, user_id_by_email(conn, email), None, audit.CLI))
    click.echo(f"увімкнено / switched on: {email.strip()}")


from gis.user_tokens_cli import token_group  # noqa: E402  (hromada users token create|list|revoke)

users_group.add_command(token_group)
