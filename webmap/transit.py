"""Public transport pages (issue #21): a stop's next departures and its printable QR poster.

GET /s/<stop_code>                        the stop: next departures from now (Kyiv time) or ``?at=YYYY-MM-DDTHH:MM``,
                                          the routes serving it, wheelchair boarding, links to the maps
GET /s/<stop_code>/poster                 an A4 poster: the stop's name, the QR code of its page, where to report
GET /map/<code>/stops/posters             every stop's poster of the hromada, one per printed page
GET /map/<code>/vehicles.geojson          the vehicles now, from the operator's GTFS-Realtime feed (15 s cache)

The same feed's TripUpdates give the stop page's expected times (server-side, same fetch and cache).

No JavaScript, no map library: the stop page is a few kilobytes of HTML (site.css aside).
``stop_code`` is the stop's page code (``layers.transit.page_code``: KATOTTG-stop_code).
"""
from __future__ import annotations

import datetime as dt
import time

import segno
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template, request

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


def _survey(stop: dict, lang: str) -> list[tuple[str, str]]:
    """The survey's facts the stop has (label, value in words), as its declaration names them."""
    facts = []
    for field in transit.SURVEY_FIELDS:
        value = stop.get(field.name)
        if value is None:
            continue
        facts.append((label(field.label, lang), (t("yes") if value else t("no")) if field.type == "boolean"
                      else str(value)))
    return facts


@bp.get("/s/<stop_code>")
def stop_page(stop_code: str):
    conn, lang = connection(), current_lang()
    stop = transit.stop_by_code(conn, stop_code)
    at = _moment()
    departures = transit.departures(conn, stop, at)
    live_ok = _add_expected_times(stop, departures)
    routes = [{"label": _route_label(r, lang), **r} for r in transit.routes_at(conn, stop["id"])]
    wheelchair = stop["wheelchair_boarding"] or "0"
    return render_template(
        "transit/stop.html", stop=stop, at=at, departures=departures, routes=routes, survey=_survey(stop, lang),
        wheelchair=wheelchair, live_ok=live_ok, wheelchair_label=label(transit.WHEELCHAIR_BOARDING[wheelchair], lang),
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


REALTIME_CACHE_S = 15  # the default; the app's setting REALTIME_CACHE_S changes it (tests)
# url → (fetched at, body or the problem): one fetch per cache window, not per visitor — a failure too,
# so a feed that is down does not hold every stop page for the timeout.
_realtime_cache: dict[str, tuple[float, bytes | transit.RealtimeUnavailable]] = {}
clock = time.monotonic  # tests may replace it


def _cache_seconds() -> float:
    return current_app.config.get("REALTIME_CACHE_S", REALTIME_CACHE_S)


def realtime_body(url: str) -> bytes:
    """The GTFS-Realtime feed's body, fetched at most once per cache window for every visitor;
    RealtimeUnavailable (502) when it could not be had at the last try."""
    cached = _realtime_cache.get(url)
    if cached is None or clock() - cached[0] >= _cache_seconds():
        try:
            body = transit.fetch_realtime(url)
        except transit.RealtimeUnavailable as problem:
            body = problem
        cached = (clock(), body)
        _realtime_cache[url] = cached
    if isinstance(cached[1], transit.RealtimeUnavailable):
        raise cached[1]
    return cached[1]


def _add_expected_times(stop: dict, departures: list[dict]) -> bool:
    """Expected times from the hromada's GTFS-Realtime TripUpdates onto ``departures``; False when the
    feed could not be had or read (the page shows the timetable alone)."""
    if not stop.get("realtime_url") or not departures:
        return True
    try:
        transit.expected_times(stop, departures, realtime_body(stop["realtime_url"]))
    except transit.RealtimeUnavailable:
        current_app.logger.warning("GTFS-Realtime feed %s unavailable for stop %s", stop["realtime_url"],
                                   stop["page_code"])
        return False
    return True


@bp.get("/map/<code>/vehicles.geojson")
def vehicles(code: str):
    conn = connection()
    hromada = hromada_by_katottg(conn, code)
    feed = conn.execute(sa.select(transit.transit_feed.c.id, transit.transit_feed.c.realtime_url)
                        .where(transit.transit_feed.c.hromada_id == hromada["id"])).first()
    if feed is None or not feed.realtime_url:
        raise NotFound("Громада не має даних про рух транспорту (GTFS-Realtime)",
                       "The hromada has no live vehicle positions (GTFS-Realtime)")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
                 "properties": {k: v[k] for k in v if k not in ("lon", "lat")}}
                for v in transit.vehicle_positions(conn, feed.id, realtime_body(feed.realtime_url))]
    answer = jsonify({"type": "FeatureCollection", "features": features})
    answer.mimetype = "application/geo+json"
    answer.headers["Cache-Control"] = f"public, max-age={int(_cache_seconds())}"
    return answer
