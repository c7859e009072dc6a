"""Retries that do not duplicate: an ``Idempotency-Key`` header makes a write run once, and a retry
with the same key gets the first answer (the report API and Open311 both use it)."""
from __future__ import annotations

import hashlib
import json

from flask import current_app, request

from gis import idempotency_keys
from gis.errors import InvalidInput, Unprocessable
from webmap.database import engine


def public_url() -> str:
    """The service's address for links in answers and mails: PUBLIC_URL, else the request's host."""
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def idempotency_key() -> str:
    """The request's Idempotency-Key ('' without one)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise InvalidInput("Idempotency-Key задовгий (до 200 знаків)", "Idempotency-Key is too long (200 at most)")
    return key


def request_fingerprint(fields: dict | None = None) -> str:
    """What the request asked for — ``fields`` (default: its JSON or form fields) and the bytes of its
    photos — so that the same key with another request can be told apart from a retry. Call it before
    the photos are read; their streams are rewound."""
    if fields is None:
        fields = request.get_json(silent=True) if request.is_json else request.form.to_dict(flat=False)
    digest = hashlib.sha256()
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for upload in request.files.getlist("photos"):
        digest.update(hashlib.sha256(upload.stream.read()).digest())
        upload.stream.seek(0)
    return digest.hexdigest()


def run_once(scope: str, key: str, fingerprint: str | None, status: int, action):
    """Run ``action(conn)`` in a transaction, once per Idempotency-Key: a retry gets the first answer.

    A concurrent request with the same key waits on the key's row until the first commits; the
    same key with a different request is a 422. Without a key, the action simply runs.
    """
    with engine().begin() as conn:
        if key:
            earlier = idempotency_keys.claim(conn, scope, key, fingerprint)
            if earlier is not None:
                if earlier.request_hash != fingerprint:
                    raise Unprocessable("Цей Idempotency-Key вже використано для іншого запиту",
                                        "This Idempotency-Key was already used for a different request")
                return earlier.response, earlier.status_code
        answer = action(conn)
        if key:
            idempotency_keys.record(conn, scope, key, status, answer)
    return answer, status
