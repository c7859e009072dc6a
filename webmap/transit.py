"""Public transport pages (issue #21): a stop's next departures and its printable QR poster.

GET /s/<stop_code>                        the stop: next departures from now (Kyiv time) or ``?at=YYYY-MM-DDTHH:MM``,
                                          the routes serving it, wheelchair boarding, links to the maps
GET /s/<stop_code>/poster                 an A4 poster: the stop's name, the QR code of its page, where to report
GET /map/<code>/stops/posters             every stop's poster of the hromada, one per printed page
GET /map/<code>/vehicles.geojson          the vehicles now, from the operator's GTFS-Realtime feed (15 s cache)

No JavaScript, no map library: the stop page is a few kilobytes of HTML (site.css aside).
``stop_code`` is the stop's page code (``layers.transit.page_code``: KATOTTG-stop_code).
"""
from __future__ import annotations

import datetime as dt
import time

import segno
import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template, request

from gis.errors import InvalidInput, NotFound
from gis.hromadas import hromada_by_katottg
from layers import transit
from layers.base import label
from webmap.database import connection
from webmap.heritage import absolute_url
from webmap.i18n import current_lang, t

bp = Blueprint("transit", __name__)


def _moment() -> dt.datetime:
    """``?at=`` (Kyiv time) or now."""
    at = request.args.get("at")
    if not at:
        return dt.datetime.now(transit.KYIV)
    try:
        return dt.datetime.strptime(at.strip()[:16], "%Y-%m-%dT%H:%M").replace(tzinfo=transit.KYIV)
    except ValueError:
        raise InvalidInput("at має бути у вигляді РРРР-ММ-ДДTГГ:ХХ", "at must be YYYY-MM-DDTHH:MM") from None


def _report_contact(conn, hromada_id: int) -> dict:
    """Where residents report a problem at the stop: the hromada's default unit's e-mail and phone."""
    row = conn.execute(sa.text("""
        SELECT u.emails, u.phone FROM hromada_setup s JOIN unit u ON u.id = s.default_unit_id
        WHERE s.hromada_id = :h"""), {"h": hromada_id}).first()
    return {"email": (row.emails or [None])[0] if row else None, "phone": row.phone if row else None}


def _route_label(route: dict, lang: str) -> str:
    kind = transit.ROUTE_TYPES.get(str(route["route_type"]))
    name = " — ".join(x for x in (route.get("short_name"), route.get("long_name")) if x)
    return f"{label(kind, lang)} {name}" if kind else name


def _poster_context(conn, stop: dict, lang: str) -> dict:
    page_url = absolute_url("transit.stop_page", stop_code=stop["page_code"])
    return {"stop": stop, "page_url": page_url,
            "qr_svg": segno.make(page_url, error="m").svg_inline(scale=6, omitsize=False),
            "routes": [_route_label(r, lang) for r in transit.routes_at(conn, stop["id"])],
            "report_url": absolute_url("report_form.form", hromada=stop["katottg"]),
            "contact": _report_contact(conn, stop["hromada_id"]),
            "hromada_name": (stop["hromada_en"] if lang == "en" else None) or stop["hromada_uk"]}


@bp.get("/s/<stop_code>")
def stop_page(stop_code: str):
    conn, lang = connection(), current_lang()
    stop = transit.stop_by_code(conn, stop_code)
    at = _moment()
    departures = transit.departures(conn, stop, at)
    routes = [{"label": _route_label(r, lang), **r} for r in transit.routes_at(conn, stop["id"])]
    wheelchair = stop["wheelchair_boarding"] or "0"
    return render_template(
        "transit/stop.html", stop=stop, at=at, departures=departures, routes=routes,
        wheelchair=wheelchair, wheelchair_label=label(transit.WHEELCHAIR_BOARDING[wheelchair], lang),
        route_kind=lambda code: label(transit.ROUTE_TYPES.get(code, {"uk": "", "en": ""}), lang),
        hromada_name=(stop["hromada_en"] if lang == "en" else None) or stop["hromada_uk"],
        osm_url=f"https://www.openstreetmap.org/?mlat={stop['lat']:.6f}&mlon={stop['lon']:.6f}"
                f"#map=17/{stop['lat']:.6f}/{stop['lon']:.6f}",
        scheme=transit.scheme(conn, stop), title=t("stop_page_title", name=stop["name"]))


@bp.get("/s/<stop_code>/poster")
def stop_poster(stop_code: str):
    conn, lang = connection(), current_lang()
    stop = transit.stop_by_code(conn, stop_code)
    return render_template("transit/posters.html", posters=[_poster_context(conn, stop, lang)],
                           title=t("stop_poster_title", name=stop["name"]))


@bp.get("/map/<code>/stops/posters")
def hromada_posters(code: str):
    conn, lang = connection(), current_lang()
    hromada = hromada_by_katottg(conn, code)
    posters = [_poster_context(conn, transit.stop_by_code(conn, s["page_code"]), lang)
               for s in transit.hromada_stops(conn, hromada["id"])]
    name = (hromada["name_en"] if lang == "en" else None) or hromada["name_uk"]
    return render_template("transit/posters.html", posters=posters, title=t("stop_posters_title", hromada=name))


REALTIME_CACHE_S = 15
_realtime_cache: dict[str, tuple[float, bytes]] = {}  # url → (fetched at, body): one fetch per 15 s, not per visitor


@bp.get("/map/<code>/vehicles.geojson")
def vehicles(code: str):
    conn = connection()
    hromada = hromada_by_katottg(conn, code)
    feed = conn.execute(sa.select(transit.transit_feed.c.id, transit.transit_feed.c.realtime_url)
                        .where(transit.transit_feed.c.hromada_id == hromada["id"])).first()
    if feed is None or not feed.realtime_url:
        raise NotFound("Громада не має даних про рух транспорту (GTFS-Realtime)",
                       "The hromada has no live vehicle positions (GTFS-Realtime)")
    cached = _realtime_cache.get(feed.realtime_url)
    if cached is None or time.monotonic() - cached[0] > REALTIME_CACHE_S:
        cached = (time.monotonic(), transit.fetch_realtime(feed.realtime_url))
        _realtime_cache[feed.realtime_url] = cached
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
                 "properties": {k: v[k] for k in v if k not in ("lon", "lat")}}
                for v in transit.vehicle_positions(conn, feed.id, cached[1])]
    answer = jsonify({"type": "FeatureCollection", "features": features})
    answer.mimetype = "application/geo+json"
    answer.headers["Cache-Control"] = f"public, max-age={REALTIME_CACHE_S}"
    return answer
