"""``hromada api-keys …``: issue, list and revoke the API keys of client applications (Open311)."""
from __future__ import annotations

import click

from gis import db


@click.group("api-keys")
def api_keys_group():
    """API keys of client applications that submit reports (Open311)."""


def _engine():
    return db.make_engine(db.database_url())


@api_keys_group.command("create")
@click.argument("name")
def create(name: str):
    """Issue a key for the application NAME. The key is printed once and never again."""
    from gis.api_keys import issue_key

    engine = _engine()
    try:
        with engine.begin() as conn:
            key_id, key = issue_key(conn, name)
    finally:
        engine.dispose()
    click.echo(f"ключ API / API key {key_id} ({name.strip()}):")
    click.echo(key)
    click.echo("Збережіть його зараз: його більше не буде показано / Keep it now: it will not be shown again")


@api_keys_group.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int):
    """Revoke the key with id KEY_ID: it stops working at once."""
    from gis.api_keys import revoke_key

    engine = _engine()
    try:
        with engine.begin() as conn:
            changed = revoke_key(conn, key_id)
    finally:
        engine.dispose()
    click.echo(f"ключ {key_id} відкликано / key {key_id} revoked" if changed
               else f"ключ {key_id} уже було відкликано / key {key_id} was already revoked")


@api_keys_group.command("list")
def list_command():
    """List the keys: id, application, issued, revoked (the keys themselves are not stored)."""
    from gis.api_keys import list_keys

    engine = _engine()
    try:
        with engine.connect() as conn:
            rows = list_keys(conn)
    finally:
        engine.dispose()
    if not rows:
        click.echo("ключів немає / no keys")
    for row in rows:
        state = f"відкликано / revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "діє / active"
        click.echo(f"{row.id}\t{row.name}\t{row.created_at:%Y-%m-%d %H:%M}\t{state}")
