"""Static files fingerprinted and cached for a year.

Every ``url_for('static', filename=…)`` gets ``?v=<hash of the file's content>``; a request carrying
that ``v`` is answered with ``Cache-Control: public, max-age=31536000, immutable``. A phone then loads
Leaflet and our scripts once, and a changed file has a new URL, so nobody keeps a stale copy.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Flask, request

ONE_YEAR = 365 * 24 * 3600


@functools.lru_cache(maxsize=512)
def _fingerprint(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def fingerprint(folder: str, filename: str) -> str | None:
    path = Path(folder, filename)
    try:
        return _fingerprint(path, path.stat().st_mtime_ns)
    except OSError:  # not a file (a wrong name): the link answers 404 as it would anyway
        return None


def init_app(app: Flask) -> None:
    @app.url_defaults
    def _add_fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = fingerprint(app.static_folder, values["filename"])
            if version:
                values["v"] = version

    default_max_age = app.get_send_file_max_age

    def max_age(filename: str | None) -> int | None:
        if request.endpoint == "static" and request.args.get("v"):
            return ONE_YEAR
        return default_max_age(filename)

    app.get_send_file_max_age = max_age

    @app.after_request
    def _read_whole(response):
        # A static file is sent as an open file; flask-compress would wrap it in a generator and never
        # close it. Ours are small: read each and close it here (init_app is called after
        # Compress.init_app, and after_request hooks run last-registered first, so this runs before).
        if request.endpoint == "static" and response.direct_passthrough and response.status_code == 200:
            body = b"".join(response.response)
            response.close()
            response.direct_passthrough = False
            response.set_data(body)
        return response

    @app.after_request
    def _immutable(response):
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.immutable = True
            response.cache_control.public = True
        return response
