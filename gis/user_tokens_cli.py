"""``hromada users token …``: personal API tokens (QGIS and other OGC API clients)."""
from __future__ import annotations

import click

from gis import db


@click.group("token")
def token_group():
    """Personal API tokens: `Authorization: Bearer <token>`, or the token as the password of HTTP
    Basic (any user name; QGIS 3.22), acts as the user."""


def _in_transaction(work):
    """``work(conn)`` in one transaction of the service's database; its result."""
    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


@token_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. QGIS.")
def create(email: str, name: str):
    """Issue a token for the user EMAIL. The token is printed once and never again."""
    from gis.user_tokens import create_token

    token_id, token = _in_transaction(lambda conn: create_token(conn, email, name))
    click.echo(f"токен / token {token_id} ({email.strip()}, {name.strip()}):")
    click.echo(token)
    click.echo("Збережіть його зараз: його більше не буде показано / Keep it now: it will not be shown again")
    click.echo("QGIS: автентифікація Basic, пароль — цей токен / Basic authentication, password: this token")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int):
    """Revoke the token with id TOKEN_ID: it stops working at once."""
    from gis.user_tokens import revoke_token

    changed = _in_transaction(lambda conn: revoke_token(conn, token_id))
    click.echo(f"токен {token_id} відкликано / token {token_id} revoked" if changed
               else f"токен {token_id} уже було відкликано / token {token_id} was already revoked")


@token_group.command("list")
@click.option("--email", default=None, help="Only this user's tokens.")
def list_command(email: str | None):
    """List the tokens: id, user, name, created, last used, state (the tokens themselves are not stored)."""
    from gis.user_tokens import list_tokens

    rows = _in_transaction(lambda conn: list_tokens(conn, email))
    if not rows:
        click.echo("токенів немає / no tokens")
    for row in rows:
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "—"
        state = f"відкликано / revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "діє / active"
        click.echo(f"{row.id}\t{row.email}\t{row.name}\t{row.created_at:%Y-%m-%d %H:%M}\t{used}\t{state}")
