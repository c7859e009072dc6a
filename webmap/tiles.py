"""Vector tiles over HTTP: cacheable by proxies and CDNs (ETag, Cache-Control), cheap when empty.

GET /tiles/<layer>/<z>/<x>/<y>.mvt   a Mapbox vector tile (204 when empty)
GET /tiles/<layer>.json              TileJSON

A map asks for dozens of tiles at once, and a small tile costs PostgreSQL a third of a
millisecond; Flask's per-request machinery (request context, session, rate limiter, a pooled
connection pinged before use) cost three times that. So a well-formed request for a tile of a
public layer is answered by :class:`TileFastPath`, a thin WSGI layer in front of Flask; anything
else — a bad zoom, an unknown layer, a database that went away — falls through to the Flask route
below, which answers it (or explains the error) the ordinary way. Both share one memory cache.

That memory is the process's own (:class:`TileMemory`) when the app runs as one process. Several
processes (HROMADA_SHARED_STORE=memcached://…) keep it in memcached instead (:class:`SharedTileMemory`):
a process's own copy would go on serving a layer's tiles after another process forgot them (a plan
published, a report hidden), which one shared copy with a generation per layer cannot. With another
store (redis://) there is no tile memory in the app — nginx's proxy_cache in front keeps tiles then.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time

import psycopg
import sqlalchemy as sa
from cachetools import TTLCache
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from werkzeug.http import parse_etags

from gis.errors import NotFound
from layers import tiles
from layers.base import Layer
from layers.registry import all_layers, get_layer
from webmap.database import connection

log = logging.getLogger(__name__)
bp = Blueprint("tiles", __name__, url_prefix="/tiles")
MVT = "application/vnd.mapbox-vector-tile"
CACHE = "public, max-age=300"
# Tiles kept in memory for as long as a proxy may keep them anyway (a fraction of max-age): a busy
# map asks for the same tiles again and again. Per app, bounded in entries and age.
MEMORY_TTL_SECONDS = 60
MEMORY_TILES = 5000
TILE_PATH = re.compile(r"/tiles/(?P<name>\w+)/(?P<z>\d{1,2})/(?P<x>\d{1,7})/(?P<y>\d{1,7})\.mvt")


class TileMemory:
    """The app's recently made tiles, by (layer, z, x, y)."""

    def __init__(self, seconds: float):
        self._tiles = TTLCache(MEMORY_TILES, seconds)
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            return self._tiles.get(key)

    def put(self, key: tuple, data: bytes) -> None:
        with self._lock:
            self._tiles[key] = data

    def forget_layer(self, name: str) -> None:
        """Drop a layer's tiles, e.g. when a plan is published and its zones become public."""
        with self._lock:
            for key in [k for k in self._tiles if k[0] == name]:
                self._tiles.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()


class SharedTileMemory:
    """Recently made tiles in memcached, shared by every app process: a tile's key holds its layer's
    generation, so forgetting a layer (or everything) is one write every process sees at once. The
    store out of reach costs a tile a database query, never an error: it is then left alone for a
    few seconds rather than waited for on each tile."""

    PREFIX = "hromada:tiles"
    TOO_BIG = 1000 * 1000  # memcached's default item limit is 1 MB
    PAUSE_SECONDS = 5.0

    def __init__(self, uri: str, seconds: float):
        from pymemcache.client.base import PooledClient

        host, _, port = uri.split("://", 1)[1].split("/", 1)[0].rpartition(":")
        self._client = PooledClient((host or "127.0.0.1", int(port or 11211)), connect_timeout=0.2, timeout=0.5,
                                    max_pool_size=32)
        self._seconds = max(1, int(seconds))
        self._paused_until = 0.0

    def _call(self, method: str, *args):
        if time.monotonic() < self._paused_until:
            return None
        try:
            return getattr(self._client, method)(*args)
        except Exception as exc:  # any failure of the store is a miss, not an error
            log.warning("shared tile memory out of reach (%s); tiles made afresh for %ss", exc, self.PAUSE_SECONDS)
            self._paused_until = time.monotonic() + self.PAUSE_SECONDS
            return None

    def _key(self, key: tuple) -> str | None:
        name = key[0]
        generations = self._call("get_many", [f"{self.PREFIX}:gen", f"{self.PREFIX}:gen:{name}"])
        if generations is None:
            return None
        every = generations.get(f"{self.PREFIX}:gen", b"0").decode()
        layer = generations.get(f"{self.PREFIX}:gen:{name}", b"0").decode()
        return f"{self.PREFIX}:{every}:{layer}:" + ":".join(map(str, key))

    def get(self, key: tuple) -> bytes | None:
        stored = self._key(key)
        return None if stored is None else self._call("get", stored)

    def put(self, key: tuple, data: bytes) -> None:
        stored = self._key(key)
        if stored is not None and len(data) < self.TOO_BIG:
            self._call("set", stored, data, self._seconds, False)  # acknowledged: then the others find it

    def _new_generation(self, name: str) -> None:
        self._paused_until = 0.0  # forgetting must reach the store if it can at all
        # Acknowledged (not pymemcache's default noreply): every process reads the new generation from here on.
        self._call("set", name, secrets.token_hex(6).encode(), 0, False)

    def forget_layer(self, name: str) -> None:
        self._new_generation(f"{self.PREFIX}:gen:{name}")

    def clear(self) -> None:
        self._new_generation(f"{self.PREFIX}:gen")

    def close(self) -> None:
        self._client.close()


class NoTileMemory:
    """No memory in the app (a shared store other than memcached): the proxy in front caches tiles."""

    def get(self, key: tuple) -> bytes | None:
        return None

    def put(self, key: tuple, data: bytes) -> None:
        pass

    def forget_layer(self, name: str) -> None:
        pass

    def clear(self) -> None:
        pass


def tile_memory(app: Flask | None = None) -> TileMemory | SharedTileMemory | NoTileMemory:
    app = app or current_app
    memory = app.extensions.get("hromada_tiles")
    if memory is None:
        seconds = app.config.get("TILE_CACHE_SECONDS", MEMORY_TTL_SECONDS)
        store = app.config.get("SHARED_STORE", "")
        if not store:
            memory = TileMemory(seconds)
        elif store.startswith("memcached://"):
            memory = SharedTileMemory(store, seconds)
        else:
            memory = NoTileMemory()
        memory = app.extensions.setdefault("hromada_tiles", memory)
    return memory


def _tile_answer(data: bytes, if_none_match: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a tile's bytes: 204 when empty, 304 when the client has it."""
    if not data:
        return 204, [("Cache-Control", CACHE)], b""
    etag = f'"{hashlib.sha1(data).hexdigest()}"'
    if if_none_match and parse_etags(if_none_match).contains_weak(etag.strip('"')):
        return 304, [("ETag", etag), ("Cache-Control", CACHE)], b""
    return 200, [("Content-Type", MVT), ("Content-Length", str(len(data))), ("ETag", etag),
                 ("Cache-Control", CACHE)], data


def _public_layer(name: str) -> Layer:
    layer = get_layer(name)
    # Tiles are shared through caches: only layers anyone may see.
    if layer.permissions.view != "public":
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist")
    return layer


@bp.get("/<name>/<int:z>/<int:x>/<int:y>.mvt")
def vector_tile(name: str, z: int, x: int, y: int):
    layer = _public_layer(name)
    memory = tile_memory()
    key = (name, z, x, y)
    data = memory.get(key)
    if data is None:
        data = tiles.tile(connection(), layer, z, x, y)
        memory.put(key, data)
    status, headers, body = _tile_answer(data, request.headers.get("If-None-Match"))
    return Response(body, status=status, headers=[h for h in headers if h[0] != "Content-Length"])


@bp.get("/<name>.json")
def layer_tilejson(name: str):
    layer = _public_layer(name)
    template = url_for(".vector_tile", name=name, z=0, x=0, y=0, _external=True).replace("/0/0/0.mvt",
                                                                                        "/{z}/{x}/{y}.mvt")
    return jsonify(tiles.tilejson(connection(), layer, template)), 200, {"Cache-Control": CACHE}


class TileFastPath:
    """WSGI middleware: GET/HEAD of a tile of a public layer, without Flask (see the module's docstring).

    Its own small connection pool (webmap.database's tile engine), in autocommit, running generic plans
    and not pinged before each use (the ping is a round trip, as long as a small tile): when the
    database restarts, the failing request falls through to the Flask route, whose pool pings and
    reconnects, and this pool starts afresh.
    """

    def __init__(self, app: Flask):
        self.flask_wsgi = app.wsgi_app
        self.memory = tile_memory(app)
        self.engine = app.extensions["hromada_tile_read_engine"]
        self.layers = {layer.name: layer for layer in all_layers() if layer.permissions.view == "public"}

    @classmethod
    def install(cls, app: Flask) -> None:
        app.wsgi_app = cls(app)

    def __call__(self, environ, start_response):
        match = TILE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        layer = self.layers.get(match["name"]) if match else None
        if layer is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.flask_wsgi(environ, start_response)
        z, x, y = int(match["z"]), int(match["x"]), int(match["y"])
        if not tiles.tile_exists(z, x, y):
            return self.flask_wsgi(environ, start_response)
        key = (layer.name, z, x, y)
        data = self.memory.get(key)
        if data is None:
            try:
                data = self._make(layer, z, x, y)
            except (psycopg.Error, sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:  # no connection: Flask's 503
                log.warning("tile %s/%s/%s/%s via the fast path failed (%s); the Flask route answers",
                            layer.name, z, x, y, exc)
                return self.flask_wsgi(environ, start_response)
            self.memory.put(key, data)
        status, headers, body = _tile_answer(data, environ.get("HTTP_IF_NONE_MATCH"))
        start_response(_STATUS_LINES[status], headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _make(self, layer: Layer, z: int, x: int, y: int) -> bytes:
        pooled = self.engine.raw_connection()
        try:
            return tiles.driver_tile(pooled.driver_connection, layer, z, x, y)
        except psycopg.OperationalError:
            pooled.invalidate()
            self.engine.dispose()  # its other connections went with the server, most likely
            raise
        finally:
            pooled.close()


_STATUS_LINES = {200: "200 OK", 204: "204 No Content", 304: "304 Not Modified"}
