"""Personal API tokens: a signed-in user's key for QGIS and other clients of the OGC API.

A request with ``Authorization: Bearer <token>`` acts as the token's user, with that user's roles
(issue #9: planners edit plan zones from QGIS). A token is shown once, when it is created; the
database keeps only its SHA-256 hash. SHA-256 rather than argon2: the token is 32 random bytes
(256 bits), so there is nothing to guess and a slow, salted hash would add no protection — but it
would cost tens of milliseconds on every request and make a lookup by hash impossible. Looking
a token up by its hash also leaks nothing through timing (the attacker does not control the hash).
Revoking is immediate; a deactivated user's tokens stop working with the account.

The same token may come as the password of HTTP Basic (``Authorization: Basic base64(name:token)``,
any user name — the e-mail, say — issue #19): QGIS 3.22's "Basic" authentication configuration
sends nothing else. Only a password that looks like a token (``hgut_…``) is taken for one; any
other Basic credentials are not ours (a proxy's password, say) and are left alone.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from gis.models import app_user, user_token
from gis.users import User, load_user

TOKEN_PREFIX = "hgut_"  # recognisable in logs and by secret scanners; api keys are "hgis_"
MAX_NAME = 200
# last_used_at is written at most this often per token: a map in QGIS sends many requests a second.
TOUCH_EVERY = "1 minute"


# The challenge a client that may answer with Basic gets (RFC 7617: the password is sent in UTF-8).
BASIC_CHALLENGE = 'Basic realm="Hromada GIS", charset="UTF-8"'


@dataclass(frozen=True)
class Credentials:
    """What an ``Authorization`` header carries: its scheme (``bearer`` or ``basic``) and the
    personal token in it — None for Basic credentials that hold no token (malformed, or a password
    that is not a token)."""

    scheme: str
    token: str | None


def credentials(authorization: str | None) -> Credentials | None:
    """The credentials of an ``Authorization`` header value; None when it carries neither Bearer nor
    Basic (or nothing). Bearer's token is taken as given (an empty one is none at all)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return Credentials("bearer", value) if value else None
    if scheme != "basic":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return Credentials("basic", None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # RFC 7617 leaves other encodings to the client; a token is ASCII
    _name, colon, password = text.partition(":")  # a user name has no colon; the password may
    password = password.strip()
    return Credentials("basic", password if colon and password.startswith(TOKEN_PREFIX) else None)


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
