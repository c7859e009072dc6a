"""Flask extensions shared by the blueprints: CSRF protection, rate limits, compression."""
from __future__ import annotations

from flask import current_app
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Responses compressed (zstd, brotli or gzip, as the client accepts): a map page and its scripts
# shrink four to five times on a rural link. Tiles and GeoJSON are text-like and shrink as well.
compress = Compress()
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                    "application/geo+json", "application/vnd.mapbox-vector-tile", "text/csv", "image/svg+xml",
                    "application/xml", "text/xml", "application/atom+xml", "application/manifest+json"]
# In-process counters: right for one waitress process; point RATELIMIT_STORAGE_URI at Redis or
# memcached when running several processes.
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")


def report_rate_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]
