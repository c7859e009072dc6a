"""The stored answers behind ``Idempotency-Key`` (table ``idempotency_key``): claimed before a write
runs, filled in with its answer in the same transaction, so a retry finds the first answer."""
from __future__ import annotations

import json

import sqlalchemy as sa


def claim(conn: sa.Connection, scope: str, key: str, fingerprint: str) -> sa.Row | None:
    """Claim ``key`` for this request; None when it was free, else the earlier request's
    (request_hash, status_code, response). A concurrent claim waits until the first one commits."""
    claimed = conn.execute(sa.text("""
        INSERT INTO idempotency_key (scope, key, request_hash) VALUES (:s, :k, :h)
        ON CONFLICT DO NOTHING RETURNING key"""), {"s": scope, "k": key, "h": fingerprint}).first()
    if claimed is not None:
        return None
    return conn.execute(sa.text("""SELECT request_hash, status_code, response FROM idempotency_key
                                   WHERE scope = :s AND key = :k"""), {"s": scope, "k": key}).one()


def record(conn: sa.Connection, scope: str, key: str, status: int, answer) -> None:
    """The answer a retry with ``key`` will get."""
    conn.execute(sa.text("""UPDATE idempotency_key SET status_code = :st, response = CAST(:r AS jsonb)
                            WHERE scope = :s AND key = :k"""),
                 {"st": status, "r": json.dumps(answer), "s": scope, "k": key})
