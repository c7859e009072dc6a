"""What the map pages load after they show, and the accessible list of every map layer.

- ``GET /api/map/<KATOTTG>/layers/<name>?bbox=…&zoom=…``: the features of a layer in the map's view,
  ready to draw (style, translated popup rows, tooltip; geometries simplified to about a pixel of
  the zoom). The page itself carries none (folium_lazy), so its first view does not grow with data.
- ``GET /api/map/layers/<name>/popup?lon=…&lat=…&zoom=…``: the popup of the feature under a click
  on a layer drawn from vector tiles.
- ``GET /map/<KATOTTG>/layers/<name>?page=N``: every feature of a layer, a page at a time, as text —
  the list a screen reader or keyboard user reads instead of the map.
"""
from __future__ import annotations

import math

from flask import Blueprint, Response, jsonify, render_template, request

from gis.errors import InvalidInput, NotFound
from layers import admin_areas, query
from layers.base import Layer, label
from layers.registry import get_layer
from webmap import api_models as m
from webmap.access import roles_in
from webmap.database import connection
from webmap.i18n import current_lang, tn
from webmap.mapview import MAP_FEATURE_LIMIT, for_the_map, popup_rows, popup_unit_names
from webmap.openapi import documented

bp = Blueprint("map_layers", __name__)
GEOJSON = "application/geo+json"
LIST_PAGE_SIZE = 50
PIXEL_DEGREES_AT_ZOOM_0 = 360 / 256  # a 256 px tile spans the world's 360° at zoom 0
CLICK_PIXELS = 8  # how far from a click a feature drawn from tiles still counts as clicked
CLUSTER_PIXELS = 48  # a view with more features than MAP_FEATURE_LIMIT: one circle per 48 px cell


def cluster_feature(layer: Layer, cell: dict, lang: str) -> dict:
    """A grid cell of a crowded view as the map draws it: a circle with its count, in the layer's colour."""
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [cell["lon"], cell["lat"]]},
            "properties": {"_cluster": cell["count"], "_style": layer.style.for_properties({}),
                           "_label": tn("cluster_label", cell["count"], lang=lang)}}


def _layer(name: str, roles: frozenset[str]) -> Layer:
    layer = get_layer(name)  # NotFound when no layer has that name
    if not layer.permissions.can_view(roles):  # nor revealing that a restricted one exists
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist")
    return layer


def _zoom(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 22):
        raise InvalidInput(f"Масштаб zoom={text!r} має бути цілим числом від 0 до 22",
                           f"zoom={text!r} must be a whole number from 0 to 22")
    return int(text)


def cacheable(response, private: bool):
    """Revalidated each time (the data changes), answered 304 when unchanged (ETag).

    The client may echo the tag of a compressed answer ("…:gzip", Flask-Compress): the same content."""
    response.cache_control.no_cache = True
    response.cache_control.private = private
    response.cache_control.public = not private
    response.add_etag()
    etag, _ = response.get_etag()
    if etag in {tag.split(":")[0] for tag in request.if_none_match.as_set()}:
        unchanged = Response(status=304)
        unchanged.set_etag(etag)
        unchanged.headers["Cache-Control"] = response.headers["Cache-Control"]
        return unchanged
    return response


@bp.get("/api/map/<code>/layers/<name>")
@documented(summary="A layer's features in the map's view, ready to draw", tags=("map",),
            description="For the public map: `_style` (Leaflet path options), `_popup` ([label, value] rows "
                        "in the page's language) and `_label` per feature, no other property; lines and "
                        "polygons simplified to about a pixel at `zoom`; at most 1000 features. A view holding "
                        "more comes as clusters (`clustered`: true): one point per 48-pixel cell with "
                        "`_cluster` (how many) — `numberMatched` tells how many are in the view. "
                        "`wholeHromada`: the view holds the whole hromada.",
            query=m.MapViewQuery, ok=m.FeatureCollection, media=GEOJSON)
def features_in_view(code: str, name: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    roles = roles_in(summary["id"])
    layer = _layer(name, roles)
    bbox = query.parse_bbox(request.args.get("bbox"))
    if bbox is None:
        raise InvalidInput("Потрібен параметр bbox (мін. довгота, мін. широта, макс. довгота, макс. широта)",
                           "The bbox parameter is required (min lon, min lat, max lon, max lat)")
    zoom = _zoom(request.args.get("zoom"))
    pixel = PIXEL_DEGREES_AT_ZOOM_0 / 2 ** zoom if zoom is not None else (bbox[2] - bbox[0]) / 1024
    whole = (bbox[0] <= summary["minx"] and bbox[1] <= summary["miny"]
             and bbox[2] >= summary["maxx"] and bbox[3] >= summary["maxy"])
    where = {"bbox": bbox, "hromada_id": summary["id"], "roles": roles}
    if query.more_in_view_than(conn, layer, MAP_FEATURE_LIMIT, **where):
        # More than a view can draw: how many lie where, on a grid; zooming in shows the features.
        cells = query.clusters(conn, layer, cell_degrees=CLUSTER_PIXELS * pixel, **where)
        body = {"type": "FeatureCollection", "features": [cluster_feature(layer, c, lang) for c in cells],
                "clustered": True, "numberMatched": sum(c["count"] for c in cells), "numberReturned": 0,
                "wholeHromada": whole}
    else:
        items, matched = query.features(conn, layer, page=query.Page(limit=MAP_FEATURE_LIMIT), simplify=pixel,
                                        **where)
        names = popup_unit_names(conn, layer, items, lang)
        body = {"type": "FeatureCollection",
                "features": [for_the_map(layer, f, lang, names) for f in items if f["geometry"]],
                "clustered": False, "numberMatched": matched, "numberReturned": len(items), "wholeHromada": whole}
    response = jsonify(body)
    response.content_type = GEOJSON
    return cacheable(response, private=bool(roles))


@bp.get("/api/map/layers/<name>/popup")
@documented(summary="The popup of the feature under a click on a vector-tile layer", tags=("map",),
            description="The public feature nearest to `lon`,`lat` within about 8 pixels at `zoom` "
                        "(404 when there is none).", query=m.MapClickQuery, ok=m.MapPopup)
def popup_at(name: str):
    layer = _layer(name, frozenset())  # tiles hold public rows only, so the popup does too
    lon, lat = _coordinate(request.args.get("lon"), "lon", 180), _coordinate(request.args.get("lat"), "lat", 90)
    zoom = _zoom(request.args.get("zoom")) or 0
    conn = connection()
    feature_id = query.feature_near(conn, layer, lon, lat, CLICK_PIXELS * PIXEL_DEGREES_AT_ZOOM_0 / 2 ** zoom)
    items = query.features(conn, layer, feature_id=feature_id)[0] if feature_id is not None else []
    if not items:
        raise NotFound(f"Тут немає об'єктів шару {name!r}", f"No feature of layer {name!r} here")
    props, lang = items[0]["properties"], current_lang()
    label_text = str(props.get(layer.label_field) or "") if layer.label_field else ""
    names = popup_unit_names(conn, layer, items, lang)
    return jsonify({"popup": popup_rows(layer, props, lang, names), "label": label_text})


def _coordinate(text: str | None, name: str, limit: float) -> float:
    try:
        value = float(text or "")
    except ValueError:
        value = math.nan
    if not -limit <= value <= limit:  # NaN fails too
        raise InvalidInput(f"Параметр {name} має бути числом від -{limit} до {limit}",
                           f"{name} must be a number from -{limit} to {limit}")
    return value


@bp.get("/map/<code>/layers/<name>")
def layer_list(code: str, name: str):
    """Every feature of a layer in the hromada, as text, LIST_PAGE_SIZE at a time."""
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    roles = roles_in(summary["id"])
    layer = _layer(name, roles)
    page_text = request.args.get("page", "1")
    if not (page_text.isascii() and page_text.isdigit() and int(page_text) >= 1):
        raise InvalidInput(f"Номер сторінки {page_text!r} має бути цілим числом від 1",
                           f"Page number {page_text!r} must be a whole number from 1")
    number = int(page_text)
    items, matched = query.features(conn, layer, hromada_id=summary["id"], roles=roles,
                                    page=query.Page(limit=LIST_PAGE_SIZE, offset=(number - 1) * LIST_PAGE_SIZE))
    pages = max(1, math.ceil(matched / LIST_PAGE_SIZE))
    if number > pages:
        raise NotFound(f"Сторінки {number} немає: у переліку {pages} стор.",
                       f"There is no page {number}: the list has {pages} page(s)")
    names = popup_unit_names(conn, layer, items, lang)
    rows = [(str(f["properties"].get(layer.label_field) or "") if layer.label_field else "",
             popup_rows(layer, f["properties"], lang, names)) for f in items]
    return render_template("layer_list.html", summary=summary, layer=layer, title=label(layer.title, lang),
                           rows=rows, matched=matched, number=number, pages=pages,
                           first=(number - 1) * LIST_PAGE_SIZE + 1)
