"""Failures no request can fix, answered the way each API answers its own errors.

The database out of reach — a restart, a failover, a full connection pool — is a 503 with
``Retry-After``, never a 500: SQLAlchemy's OperationalError and InterfaceError (psycopg could not
connect, or lost the connection), psycopg's own (code that uses the driver directly) and the
pool's TimeoutError become :class:`gis.errors.DatabaseUnavailable`, which is then handled like any
other refusal of the blueprint: Open311's error list (JSON or XML) under /open311/, JSON under
/api/ and /ogc/, the error page (in the visitor's language) for pages. Every 503, whoever answers
it, carries ``Retry-After``.
"""
from __future__ import annotations

import logging

import psycopg
from flask import Flask, current_app
from sqlalchemy import exc as sa_exc

from gis.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30  # a restart or failover of PostgreSQL takes seconds; a minute at most
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
               psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable() -> DatabaseUnavailable:
    return DatabaseUnavailable("База даних тимчасово недоступна; спробуйте ще раз за хвилину",
                               "The database is temporarily unavailable; please try again in a minute")


def _unavailable(exc: Exception):
    log.warning("database unavailable: %s", getattr(exc, "orig", None) or exc)
    # Handled as the blueprint handles a HromadaError: each API keeps its own error format.
    return current_app.handle_user_exception(database_unavailable())


def _retry_after(response):
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER_SECONDS", RETRY_AFTER_SECONDS))
    return response


def register(app: Flask) -> None:
    for exc_class in UNAVAILABLE:
        app.register_error_handler(exc_class, _unavailable)
    app.after_request(_retry_after)
