"""Flask extensions shared by the blueprints: CSRF protection, rate limits, compression."""
from __future__ import annotations

import threading
import time
import weakref

from flask import current_app
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage

csrf = CSRFProtect()
# Responses compressed (zstd, brotli or gzip, as the client accepts): a map page and its scripts
# shrink four to five times on a rural link. Tiles and GeoJSON are text-like and shrink as well.
compress = Compress()
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                    "application/geo+json", "application/vnd.mapbox-vector-tile", "text/csv", "image/svg+xml",
                    "application/xml", "text/xml", "application/atom+xml", "application/manifest+json"]
# Where the counts are kept is the app's RATELIMIT_STORAGE_URI (create_app: HROMADA_SHARED_STORE, else
# swept-memory://, below): in-process counters are right for one app process; several processes share memcached
# (or Redis), or each would allow the full rate. The key is the client's address — behind a proxy, the
# one ProxyFix takes from X-Forwarded-For (HROMADA_PROXY_HOPS), not the proxy's.
limiter = Limiter(key_func=get_remote_address)


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process counters (``swept-memory://``), their expired entries freed by one long-lived
    thread every SWEEP_SECONDS. limits' own MemoryStorage starts a new 10 ms timer thread on a hit whenever
    the last one has ended — at a few requests a second that is every rate-limited request, 0.4 ms of CPU
    each (a sixth of a report's intake, issue #20). The counts are the same: a read already ignores an
    expired counter; the sweep only gives back memory."""

    STORAGE_SCHEME = ["swept-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        threading.Thread(target=self._sweep, args=(weakref.ref(self),), daemon=True,
                         name="rate-limit-sweep").start()

    def _MemoryStorage__schedule_expiry(self) -> None:
        """MemoryStorage calls this (by its private name) on every hit to start its timer: nothing to do."""

    @staticmethod
    def _sweep(storage_ref: weakref.ref) -> None:
        # A weak reference: a storage no app uses any more (a test's) is collected and its thread ends.
        while True:
            time.sleep(SweptMemoryStorage.SWEEP_SECONDS)
            storage = storage_ref()
            if storage is None:
                return
            storage._MemoryStorage__expire_events()
            del storage


def shared_store_uri() -> str:
    """HROMADA_SHARED_STORE: the store several app processes share (``memcached://host:port`` or
    ``redis://host:port``), '' for one process on its own."""
    import os

    uri = os.environ.get("HROMADA_SHARED_STORE", "").strip()
    return "" if uri in ("", "memory://") else uri


def proxy_hops() -> int:
    """HROMADA_PROXY_HOPS: how many proxies in front of the app set X-Forwarded-For/-Proto/-Host
    (0, the default: none, the app serves clients directly and trusts no such header)."""
    import os

    from gis.errors import HromadaError

    raw = os.environ.get("HROMADA_PROXY_HOPS", "0").strip() or "0"
    if not raw.isdigit():
        raise HromadaError(f"HROMADA_PROXY_HOPS має бути числом (0, 1, 2…), а не {raw!r}",
                           f"HROMADA_PROXY_HOPS must be a number (0, 1, 2…), not {raw!r}")
    return int(raw)


def report_rate_limit() -> str:
    return current_app.config["REPORT_RATE_LIMIT"]


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]
