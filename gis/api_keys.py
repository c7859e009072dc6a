"""API keys for client applications (the Open311 API's POST): issued by an admin, revocable.

A key is shown once, when it is issued; the database keeps only its SHA-256 hash, so a leaked
database does not leak usable keys. A key is random (256 bits), so looking it up by its hash is
safe against guessing and timing alike.
"""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from gis.errors import Forbidden, InvalidInput, NotFound
from gis.models import api_key

KEY_PREFIX = "hgis_"
MAX_NAME = 200


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(conn: sa.Connection, name: str) -> tuple[int, str]:
    """A new key for the application ``name``: (its id, the key itself — shown only now)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Вкажіть назву застосунку, для якого ключ",
                           "Give the name of the application the key is for")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"Назва задовга: до {MAX_NAME} знаків",
                           f"The name is too long: {MAX_NAME} characters at most")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.execute(api_key.insert().values(name=name, key_hash=key_hash(key))
                          .returning(api_key.c.id)).scalar_one()
    return key_id, key


def revoke_key(conn: sa.Connection, key_id: int) -> bool:
    """Revoke the key; False when it was revoked already. NotFound when there is no such key."""
    found = conn.execute(sa.select(api_key.c.revoked_at).where(api_key.c.id == key_id)).first()
    if found is None:
        raise NotFound(f"Ключа API з номером {key_id} немає", f"There is no API key with id {key_id}")
    if found.revoked_at is not None:
        return False
    conn.execute(api_key.update().where(api_key.c.id == key_id).values(revoked_at=sa.func.now()))
    return True


def check_key(conn: sa.Connection, key: str | None) -> int:
    """The id of a valid, unrevoked key; Forbidden (403) for a missing, unknown or revoked one."""
    key = (key or "").strip()
    if not key:
        raise Forbidden("Не передано api_key: надсилати звернення можна лише з ключем API",
                        "api_key is missing: submitting requires an API key")
    row = conn.execute(sa.select(api_key.c.id, api_key.c.revoked_at)
                       .where(api_key.c.key_hash == key_hash(key))).first()
    if row is None:
        raise Forbidden("Недійсний api_key", "Invalid api_key")
    if row.revoked_at is not None:
        raise Forbidden("Цей api_key відкликано", "This api_key has been revoked")
    return row.id


def list_keys(conn: sa.Connection) -> list[sa.Row]:
    """Every key's id, name and dates (never the key: it is not stored)."""
    return conn.execute(sa.select(api_key.c.id, api_key.c.name, api_key.c.created_at, api_key.c.revoked_at)
                        .order_by(api_key.c.id)).all()
