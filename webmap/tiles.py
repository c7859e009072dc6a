"""Vector tiles over HTTP: cacheable by proxies and CDNs (ETag, Cache-Control), cheap when empty.

GET /tiles/<layer>/<z>/<x>/<y>.mvt   a Mapbox vector tile (204 when empty)
GET /tiles/<layer>.json              TileJSON
"""
from __future__ import annotations

import hashlib
import threading

from cachetools import TTLCache
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from gis.errors import NotFound
from layers import tiles
from layers.registry import get_layer
from webmap.database import connection

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
MVT = "application/vnd.mapbox-vector-tile"
CACHE = "public, max-age=300"
# Tiles kept in memory for as long as a proxy may keep them anyway (a fraction of max-age): a busy
# map asks for the same tiles again and again. Per app, bounded in entries and age.
MEMORY_TTL_SECONDS = 60
MEMORY_TILES = 5000


def _memory() -> tuple[TTLCache, threading.Lock]:
    cache = current_app.extensions.get("hromada_tiles")
    if cache is None:
        cache = current_app.extensions.setdefault(
            "hromada_tiles", (TTLCache(MEMORY_TILES, current_app.config.get("TILE_CACHE_SECONDS", MEMORY_TTL_SECONDS)),
                              threading.Lock()))
    return cache


def _public_layer(name: str):
    layer = get_layer(name)
    # Tiles are shared through caches: only layers anyone may see.
    if layer.permissions.view != "public":
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist")
    return layer


@bp.get("/<name>/<int:z>/<int:x>/<int:y>.mvt")
def vector_tile(name: str, z: int, x: int, y: int):
    layer = _public_layer(name)
    cache, lock = _memory()
    key = (name, z, x, y)
    with lock:
        data = cache.get(key)
    if data is None:
        data = tiles.tile(connection(), layer, z, x, y)
        with lock:
            cache[key] = data
    if not data:
        return Response(status=204, headers={"Cache-Control": CACHE})
    etag = hashlib.sha1(data).hexdigest()
    if etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": CACHE})
    return Response(data, mimetype=MVT, headers={"ETag": f'"{etag}"', "Cache-Control": CACHE})


@bp.get("/<name>.json")
def layer_tilejson(name: str):
    layer = _public_layer(name)
    template = url_for(".vector_tile", name=name, z=0, x=0, y=0, _external=True).replace("/0/0/0.mvt",
                                                                                        "/{z}/{x}/{y}.mvt")
    return jsonify(tiles.tilejson(connection(), layer, template)), 200, {"Cache-Control": CACHE}


