"""Personal API tokens: a signed-in user's key for QGIS and other clients of the OGC API.

A request with ``Authorization: Bearer <token>`` acts as the token's user, with that user's roles
(issue #9: planners edit plan zones from QGIS). A token is shown once, when it is created; the
database keeps only its SHA-256 hash. SHA-256 rather than argon2: the token is 32 random bytes
(256 bits), so there is nothing to guess and a slow, salted hash would add no protection — but it
would cost tens of milliseconds on every request and make a lookup by hash impossible. Looking
a token up by its hash also leaks nothing through timing (the attacker does not control the hash).
Revoking is immediate; a deactivated user's tokens stop working with the account.
"""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from gis.models import app_user, user_token
from gis.users import User, load_user

TOKEN_PREFIX = "hgut_"  # recognisable in logs and by secret scanners; api keys are "hgis_"
MAX_NAME = 200
# last_used_at is written at most this often per token: a map in QGIS sends many requests a second.
TOUCH_EVERY = "1 minute"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_id_by_email(conn: sa.Connection, email: str) -> int:
    user_id = conn.execute(sa.select(app_user.c.id).where(
        sa.func.lower(app_user.c.email) == (email or "").strip().lower())).scalar()
    if user_id is None:
        raise NotFound(f"Користувача {email} немає", f"There is no user {email}")
    return user_id


def create_token(conn: sa.Connection, email: str, name: str) -> tuple[int, str]:
    """A new token for the user ``email``: (its id, the token itself — shown only now)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Вкажіть назву токена (наприклад, QGIS)", "Give the token a name (e.g. QGIS)")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"Назва задовга: до {MAX_NAME} знаків",
                           f"The name is too long: {MAX_NAME} characters at most")
    user_id = _user_id_by_email(conn, email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(user_token.insert().values(user_id=user_id, name=name, token_hash=token_hash(token))
                            .returning(user_token.c.id)).scalar_one()
    return token_id, token


def revoke_token(conn: sa.Connection, token_id: int) -> bool:
    """Revoke the token; False when it was revoked already. NotFound when there is no such token."""
    revoked = conn.execute(user_token.update().where(user_token.c.id == token_id, user_token.c.revoked_at.is_(None))
                           .values(revoked_at=sa.func.now()).returning(user_token.c.id)).first()
    if revoked is None and conn.execute(sa.select(user_token.c.id).where(user_token.c.id == token_id)).first() is None:
        raise NotFound(f"Токена з номером {token_id} немає", f"There is no token with id {token_id}")
    return revoked is not None


def verify_token(conn: sa.Connection, token: str | None) -> User | None:
    """The active user of a valid, unrevoked token; None for anything else (the caller says 401)."""
    token = (token or "").strip()
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(sa.select(user_token.c.id, user_token.c.user_id).where(
        user_token.c.token_hash == token_hash(token), user_token.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    user = load_user(conn, row.user_id)  # None for a deactivated account
    if user is not None:
        conn.execute(sa.text(f"""UPDATE user_token SET last_used_at = now() WHERE id = :id
                                 AND (last_used_at IS NULL OR last_used_at < now() - interval '{TOUCH_EVERY}')"""),
                     {"id": row.id})
    return user


def list_tokens(conn: sa.Connection, email: str | None = None) -> list[sa.Row]:
    """Every token's id, owner, name and dates (never the token: it is not stored), oldest first."""
    query = (sa.select(user_token.c.id, app_user.c.email, user_token.c.name, user_token.c.created_at,
                       user_token.c.last_used_at, user_token.c.revoked_at)
             .join(app_user, app_user.c.id == user_token.c.user_id).order_by(user_token.c.id))
    if email:
        query = query.where(user_token.c.user_id == _user_id_by_email(conn, email))
    return conn.execute(query).all()
