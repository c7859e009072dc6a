"""Flask extensions shared by the blueprints: CSRF protection and rate limits."""
from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# In-process counters: right for one waitress process; point RATELIMIT_STORAGE_URI at Redis or
# memcached when running several processes.
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")


def report_rate_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]
