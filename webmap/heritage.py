"""Cultural heritage pages and e-routes.

GET /map/<KATOTTG>/heritage        heritage map by significance with its legend, the objects' table,
                                   the living heritage (cultural potential) and the hromada's routes
GET /heritage/objects/<id>         one object: its facts, zones, photos
GET /heritage/photos/<id>.jpg      a photo (EXIF stripped on upload); ?size=thumb for the thumbnail
GET /routes/<code>                 a printable route page: map, stops in order with descriptions,
                                   length, walking and cycling times, a QR code linking to the page
GET /routes/<code>.gpx             the route as GPX 1.1 (waypoints, route, track)
GET /routes/<code>.geojson         the route as GeoJSON (the line and the stops)
GET /api/hromadas/<KATOTTG>/routes the hromada's routes as JSON
"""
from __future__ import annotations

import folium
import segno
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from gis import geojson
from gis.errors import NotFound
from layers import admin_areas, eroutes, heritage
from layers.base import label
from webmap import api_models as m
from webmap.access import roles_in
from webmap.database import connection
from webmap.folium_safe import TOOLTIP_PROPERTY, Attribution, SafeGeoJsonTooltip
from webmap.i18n import current_lang
from webmap.mapview import ShownLayer, add_boundary, base_map, build_map, legend, map_parts
from webmap.openapi import DEMO_KATOTTG, documented

bp = Blueprint("heritage", __name__)
HERITAGE_LAYERS = ("heritage_objects", "heritage_zones", "cultural_potential")
ROUTE_COLOUR = "#862e9c"


def _route_code(code: str) -> str:
    if not eroutes.CODE_PATTERN.match(code):
        raise NotFound(f"Маршруту {code!r} немає", f"There is no route {code!r}")
    return code


def absolute_url(endpoint: str, **values) -> str:
    """The page's address for people outside (the QR code): HROMADA_PUBLIC_URL when set, else this host."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


@bp.get("/map/<code>/heritage")
def heritage_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    fmap, shown = build_map(conn, summary, lang, roles_in(summary["id"]), only=HERITAGE_LAYERS)
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    objects = heritage.objects_in_hromada(conn, summary["id"])
    potential = heritage.potential_in_hromada(conn, summary["id"])
    routes = eroutes.list_routes(conn, summary["id"])
    return render_template(
        "heritage.html", summary=summary, parts=map_parts(fmap), legend=[*_legend(shown, lang), boundary],
        objects=objects, potential=potential, routes=routes, layer=heritage.HERITAGE_OBJECTS,
        potential_layer=heritage.CULTURAL_POTENTIAL,
        types_of=lambda codes: heritage.labels_of(codes, heritage.HERITAGE_TYPES, lang),
        seasons_of=lambda codes: heritage.labels_of(codes, heritage.SEASONS, lang),
        has_demo=any(o["is_demo"] for o in objects) or any(p["is_demo"] for p in potential)
        or any(r["is_demo"] for r in routes))


def _legend(shown: list[ShownLayer], lang: str) -> list[tuple[str, str]]:
    """A row for every colour the heritage map draws, read from the shown layers' own styles (where the
    colours come from): a category layer's categories, a one-colour layer by its title (issue #17)."""
    return [row for s in shown for row in legend(s.layer, lang) or [(label(s.layer.title, lang), s.layer.style.color)]]


@bp.get("/heritage/objects/<int:object_id>")
def object_page(object_id: int):
    conn, lang = connection(), current_lang()
    obj = heritage.heritage_object(conn, object_id)
    layer = heritage.HERITAGE_OBJECTS
    facts = []
    for f in layer.public_fields:
        value = obj.get(f.name)
        if f.name == "types":
            value = heritage.labels_of(value, heritage.HERITAGE_TYPES, lang) if value else None
        elif f.choices and value in f.choices:
            value = label(f.choices[value], lang)
        if value not in (None, ""):
            facts.append((label(f.label, lang), str(value)))
    name = (obj.get("name_en") if lang == "en" else None) or obj["name_uk"]
    fmap = base_map(lang, height="320px", location=[obj["lat"], obj["lon"]], zoom=15)
    _add_points(fmap, [{"lon": obj["lon"], "lat": obj["lat"], "label": name}],
                heritage.SIGNIFICANCE_COLOURS.get(obj.get("significance"), "#1864ab"))
    return render_template("heritage_object.html", obj=obj, name=name, facts=facts, parts=map_parts(fmap),
                           zone_kind=lambda k: label(heritage.ZONE_KINDS.get(k, {"uk": k, "en": k}), lang))


@bp.get("/heritage/photos/<int:photo_id>.jpg")
def photo(photo_id: int):
    data = heritage.photo_bytes(connection(), photo_id, thumb=request.args.get("size") == "thumb")
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "public, max-age=3600",
                                                          "X-Content-Type-Options": "nosniff"})


def _add_points(fmap: folium.Map, points: list[dict], colour: str, numbered: bool = False) -> None:
    """Circle markers with text-only tooltips (folium's own tooltips would put names into innerHTML)."""
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                 "properties": {TOOLTIP_PROPERTY: p["label"]}} for p in points]
    layer = folium.GeoJson(geojson.collection(features),
                           marker=folium.CircleMarker(radius=9 if numbered else 10, weight=3, fill=True,
                                                      fill_opacity=0.85, color="#212529", fill_color=colour))
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)


@bp.get("/routes/<code>")
def route_page(code: str):
    conn, lang = connection(), current_lang()
    summary = eroutes.route_summary(conn, _route_code(code))
    title = (summary["title"]["en"] if lang == "en" else None) or summary["title"]["uk"]
    page_url = absolute_url("heritage.route_page", code=summary["code"])
    qr_svg = segno.make(page_url, error="m").svg_inline(scale=4, omitsize=False)
    stops = summary["stops"]
    bounds = [[min(s["lat"] for s in stops), min(s["lon"] for s in stops)],
              [max(s["lat"] for s in stops), max(s["lon"] for s in stops)]]
    fmap = base_map(lang, height="420px", bounds=bounds, padding=(30, 30))
    folium.GeoJson({"type": "Feature", "properties": {},
                    "geometry": {"type": "LineString", "coordinates": [[s["lon"], s["lat"]] for s in stops]}},
                   style_function=lambda _: {"color": ROUTE_COLOUR, "weight": 4, "dashArray": "8 6"}).add_to(fmap)
    _add_points(fmap, [{"lon": s["lon"], "lat": s["lat"], "label": f"{s['position']}. {_pick(s, 'name', lang)}"}
                       for s in stops], ROUTE_COLOUR, numbered=True)
    fmap.add_child(Attribution("© OpenStreetMap contributors (ODbL)"))
    return render_template("route.html", route=summary, title=title, page_url=page_url, qr_svg=qr_svg,
                           parts=map_parts(fmap), stops=stops, pick=lambda s, key: _pick(s, key, lang),
                           significance=lambda code_: label(heritage.SIGNIFICANCE[code_], lang)
                           if code_ in heritage.SIGNIFICANCE else None,
                           modes=[label(eroutes.MODES[m], lang) for m in summary["modes"]],
                           walking_kmh=eroutes.WALKING_KMH, cycling_kmh=eroutes.CYCLING_KMH)


def _pick(stop: dict, key: str, lang: str) -> str | None:
    return (stop.get(f"{key}_en") if lang == "en" else None) or stop.get(f"{key}_uk")


@bp.get("/routes/<code>.gpx")
def route_gpx(code: str):
    code = _route_code(code)
    lang = current_lang()
    gpx = eroutes.route_gpx(connection(), code, lang=lang, url=absolute_url("heritage.route_page", code=code))
    return Response(gpx, mimetype="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="{code}.gpx"'})


@bp.get("/routes/<code>.geojson")
def route_geojson(code: str):
    body = eroutes.route_geojson(connection(), _route_code(code), lang=current_lang())
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/api/hromadas/<code>/routes")
@documented(summary="The hromada's e-routes: code, titles, stops, length, walking and cycling minutes, links",
            tags=("heritage",), ok=m.Routes, path={"code": {"examples": [DEMO_KATOTTG]}})
def routes_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    return jsonify({"hromada": summary["katottg"], "line": "straight segments between stops",
                    "speeds_kmh": {"walking": eroutes.WALKING_KMH, "cycling": eroutes.CYCLING_KMH},
                    "routes": [{**r, "url": url_for("heritage.route_page", code=r["code"], _external=True),
                                "gpx": url_for("heritage.route_gpx", code=r["code"], _external=True)}
                               for r in eroutes.list_routes(conn, summary["id"])]})
