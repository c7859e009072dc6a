"""``GET /api/layers/<name>/items`` of a public layer for an anonymous client, answered without Flask.

Measured in one process (README, Benchmarks: bench_tiles), a page of 35 points cost the app 1.9 ms of
CPU, of which the read and its JSON took 0.6 ms: the rest was Flask's per-request machinery — the request
context, the rate limiter's check, the security headers, the session, URL building. As the tiles' fast
path does (webmap.tiles.TileFastPath), this thin WSGI layer in front of Flask answers the common,
well-formed request, with the same document (webmap.api.items_document) and the same headers, and hands
everything else to Flask, which answers it (or explains what is wrong) the ordinary way:

* anything but GET, or a path that is not exactly a public layer's items;
* a cookie or credentials: someone signed in may see staff fields; a client that has just written
  reads the primary (webmap.database);
* a ``Host`` that werkzeug refuses;
* a query with anything but ``bbox``, ``limit`` and ``offset``, each at most once (``hromada=`` among
  them), or a value the view would refuse — Flask's answer says why, in both languages;
* a client that asks for compression, which Flask-Compress gives it. Behind ``hromada cluster``'s nginx
  the app is asked uncompressed and nginx compresses (webmap.cluster), so this path answers there;
* the database failing (Flask's route pings, reconnects, or answers 503).

No rate limit applies to these reads. One set for every request (``RATELIMIT_DEFAULT``,
``RATELIMIT_APPLICATION``) must be counted by Flask-Limiter: then this path is not installed.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

import psycopg
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import HTTPException

from gis.errors import InvalidInput
from gis.jsonvalues import dumpb
from layers import query
from layers.registry import all_layers
from webmap import database, security
from webmap.api import GEOJSON, items_document

log = logging.getLogger(__name__)
ITEMS_PATH = re.compile(r"/api/layers/(?P<name>\w+)/items")
ARGUMENTS = frozenset({"bbox", "limit", "offset"})
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
ANONYMOUS: frozenset[str] = frozenset()
# What Flask's answer varies by, and so says (Flask-Compress, the session).
VARY = ("Vary", "Accept-Encoding, Cookie")


class ItemsFastPath:
    """WSGI middleware: see the module's docstring."""

    def __init__(self, app: Flask):
        self.app = app
        self.flask_wsgi = app.wsgi_app
        self.layers = {layer.name: layer for layer in all_layers() if layer.permissions.can_view(ANONYMOUS)}
        self.headers = security.public_headers(app)

    @classmethod
    def install(cls, app: Flask) -> None:
        if app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION"):
            return
        app.wsgi_app = cls(app)

    def __call__(self, environ, start_response):
        match = ITEMS_PATH.fullmatch(environ.get("PATH_INFO", ""))
        layer = self.layers.get(match["name"]) if match else None
        args = self._arguments(environ) if layer is not None and _anonymous_plain_get(environ) else None
        if args is None:
            return self.flask_wsgi(environ, start_response)
        try:
            bbox = query.parse_bbox(args.get("bbox"))
            page = query.parse_page(args.get("limit"), args.get("offset"))
        except InvalidInput:
            return self.flask_wsgi(environ, start_response)
        try:
            adapter = self.app.url_map.bind_to_environ(environ)
        except HTTPException:  # a Host header werkzeug refuses: Flask's answer (400)
            return self.flask_wsgi(environ, start_response)
        others = {key: value for key, value in args.items() if key not in ("limit", "offset")}

        def page_url(offset: int) -> str:  # as url_for(".layer_items", …, _external=True) writes it
            return adapter.build("api.layer_items", {"name": layer.name, "limit": page.limit, "offset": offset,
                                                     **others}, force_external=True)

        role = None
        try:
            conn, role = database.fast_read_connection(self.app)
            try:
                document = items_document(conn, layer, bbox=bbox, page=page, hromada_id=None, roles=ANONYMOUS,
                                          count_up_to=self.app.config["COUNT_MATCHED_UP_TO"], page_url=page_url)
            finally:
                conn.close()
        except (psycopg.Error, sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
            log.warning("%s via the fast path failed (%s); the Flask route answers", environ["PATH_INFO"], exc)
            if role == "replica":
                self.app.extensions["hromada_replica"].failed()
            return self.flask_wsgi(environ, start_response)
        body = dumpb(document)
        start_response("200 OK", [("Content-Type", GEOJSON), ("Content-Length", str(len(body))), *self.headers,
                                  VARY, ("X-Database", role)])
        return [body]

    @staticmethod
    def _arguments(environ) -> dict[str, str] | None:
        """The query's arguments when this path may answer them: each known, given once, not empty, and
        limit and offset plain whole numbers; else None."""
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        args = dict(pairs)
        if len(args) != len(pairs) or not ARGUMENTS.issuperset(args) or not all(args.values()):
            return None
        if not all(WHOLE_NUMBER.fullmatch(args[key]) for key in ("limit", "offset") if key in args):
            return None
        return args


def _anonymous_plain_get(environ) -> bool:
    """A GET with no cookie, no credentials, and no compression asked for."""
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("HTTP_COOKIE") or environ.get("HTTP_AUTHORIZATION"):
        return False
    accepted = environ.get("HTTP_ACCEPT_ENCODING", "")
    return all(coding.split(";")[0].strip().lower() in ("", "identity") for coding in accepted.split(","))
