"""Alerts for an area, feeds and announcements on the web (issue #18; the domain is layers.area_alerts
and layers.announcements).

GET  /alerts?hromada=<KATOTTG> · /map/<KATOTTG>/alerts   the subscription form (works without JavaScript;
                                                       with it, an area can be drawn on a small map)
POST /alerts                                           subscribe (a plain form; rate-limited)
POST /api/alerts                                       the same as JSON (CSRF token, Idempotency-Key)
GET|POST /alerts/confirm/<token>                       confirm the address (the followers' token)
GET|POST /alerts/unsubscribe/<token>                   one subscription ends (RFC 8058 one-click POST)
GET  /feeds/<KATOTTG>.atom                             the hromada's public reports and announcements
GET  /feeds/<KATOTTG>/villages/<id or KATOTTG>.atom    a village's
GET  /feeds/areas/<token>.atom                         a subscription's (410 once it has ended)
GET  /api/hromadas/<KATOTTG>/announcements             announcements not over, as GeoJSON
GET|POST /staff/announcements · POST /staff/announcements/end   the hromada's administrators

The public forms carry no CSRF token, as the report page's own forms (webmap.report_pages.follow_form):
the public pages set no cookie, and the worst a forged post can do is send a request to confirm that
nobody confirms (double opt-in). The links in mail are signed (layers.followers); a GET only shows what
the link will do, a POST does it, and a mail client's one-click POST needs no cookie.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for
from markupsafe import escape

from gis.audit import By
from gis.errors import HromadaError, InvalidInput
from gis.hromada_setup import hromada_outline, list_districts, list_settlements
from gis.routing import categories_in
from layers import admin_areas, announcements, area_alerts, followers
from layers.report_states import STATUSES, report_url
from layers.unit_mail import kyiv_time
from webmap import api_models as m
from webmap.access import chosen_hromada, current_user, hromada_roles
from webmap.database import connection, engine
from webmap.extensions import csrf, limiter, report_rate_limit
from webmap.i18n import current_lang, t
from webmap.idempotency import idempotency_key, public_url, request_fingerprint, run_once
from webmap.mapview import base_map, map_parts
from webmap.openapi import documented

bp = Blueprint("alerts", __name__)
GEOMAN = "vendor/leaflet-geoman-2.18.3"
STAFF_ROLES = ("admin",)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ATOM = "application/atom+xml; charset=utf-8"


# --- the place a form names ----------------------------------------------------------------------------

def place_from(conn, hromada_id: int, values) -> area_alerts.Place:
    """The place of a form (``place``: ``hromada``, ``settlement:<id>``, ``district:<id>`` or ``area`` with
    the GeoJSON in ``area``) or of a JSON body (``settlement``, ``district``, ``area`` or ``whole_hromada``)."""
    name = values.get("area_name") if isinstance(values.get("area_name"), str) else None
    if "place" in values:
        place = values.get("place")
        place = place.strip() if isinstance(place, str) else ""
        kind, _, value = place.partition(":")
        if kind == "hromada" and not value:
            return area_alerts.resolve_place(conn, hromada_id, whole=True)
        if kind in ("settlement", "district") and value:
            return area_alerts.resolve_place(conn, hromada_id, **{kind: value})
        if kind == "area" and not value:
            if not _present(values.get("area")):
                raise InvalidInput("Намалюйте ділянку на мапі або оберіть населений пункт чи округ",
                                   "Draw the area on the map, or choose a village or a district", field="area")
            return area_alerts.resolve_place(conn, hromada_id, area=values.get("area"), area_name=name)
        if place:
            raise InvalidInput("Оберіть місце зі списку", "Choose a place from the list", field="place")
        return area_alerts.resolve_place(conn, hromada_id)  # nothing chosen: says what to choose
    whole = values.get("whole_hromada")
    if whole not in (None, True, False):
        raise InvalidInput("whole_hromada: true або false", "whole_hromada: true or false", field="whole_hromada")
    return area_alerts.resolve_place(conn, hromada_id, settlement=values.get("settlement"),
                                     district=values.get("district"), area=values.get("area"),
                                     whole=bool(whole), area_name=name)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _hromada(conn, code: str | None):
    if not code:
        from gis.config import default_hromada

        code = default_hromada()
    return admin_areas.hromada_summary(conn, code)


def _name(summary, lang: str) -> str:
    return summary["name_en"] if lang == "en" and summary["name_en"] else summary["name_uk"]


# --- the public subscription form ----------------------------------------------------------------------

def _form_page(conn, summary, *, values: dict | None = None, error: str | None = None, status: int = 200):
    lang = current_lang()
    outline = hromada_outline(conn, summary["katottg"])
    fmap = base_map(lang, bounds=summary, height="340px")
    if outline["shape"] is not None:
        import folium

        folium.GeoJson(outline["shape"], control=False, interactive=False,
                       style_function=lambda _: {"color": "#212529", "weight": 1.5, "fill": False,
                                                 "dashArray": "8 4 2 4"}).add_to(fmap)
    values = values or {}
    chosen = values.get("categories") or []
    return render_template(
        "alerts/subscribe.html", summary=summary, hromada_name=_name(summary, lang), parts=map_parts(fmap),
        geoman=GEOMAN, settlements=list_settlements(conn, summary["id"]), districts=list_districts(conn, summary["id"]),
        categories=categories_in(conn, summary["id"]), values=values, chosen=chosen, error=error), status


@bp.get("/alerts")
def subscribe_page():
    conn = connection()
    return _form_page(conn, _hromada(conn, request.args.get("hromada")))


@bp.get("/map/<katottg>/alerts")
def hromada_alerts_page(katottg: str):
    conn = connection()
    return _form_page(conn, _hromada(conn, katottg))


def _subscribe(conn, values, hromada_code: str | None) -> dict:
    """Check and store a subscription in the caller's transaction; the answer of area_alerts.subscribe.
    Every check comes before anything is stored."""
    summary = _hromada(conn, hromada_code)
    email = area_alerts.check_email(values.get("email"))
    place = place_from(conn, summary["id"], values)
    categories = area_alerts.check_categories(conn, summary["id"], values.get("categories"))
    frequency = area_alerts.check_frequency(values.get("frequency"))
    answer = area_alerts.subscribe(conn, summary["id"], email, place, categories=categories, frequency=frequency,
                                   public_url=public_url())
    return {**answer, "hromada": summary["katottg"], "email": email}


@bp.post("/alerts")
@csrf.exempt
@limiter.limit(report_rate_limit)
def subscribe_submit():
    conn = connection()
    code = request.args.get("hromada") or request.form.get("hromada")
    summary = _hromada(conn, code)
    values = {k: request.form.get(k, "") for k in ("email", "place", "area", "area_name", "frequency")}
    values["categories"] = [c for c in request.form.getlist("categories") if c]
    try:
        with engine().begin() as write:
            answer = _subscribe(write, values, summary["katottg"])
    except HromadaError as exc:
        if exc.http_status >= 500:
            raise
        return _form_page(conn, summary, values=values, error=exc.message(current_lang()), status=exc.http_status)
    return render_template("alerts/subscribed.html", summary=summary, hromada_name=_name(summary, current_lang()),
                           answer=answer, shown=followers.masked(answer["email"]),
                           feed_url=public_url() + answer["feed_path"]), 200, NO_STORE


@bp.post("/api/alerts")
@limiter.limit(report_rate_limit)
@documented(summary="Alerts for an area: subscribe an e-mail address to the new reports in a village, district, "
                    "drawn area or the whole hromada", tags=("alerts",), json=m.AlertIn, headers=m.WriteHeaders,
            ok=m.AlertSubscribed, errors=(422, 429), validate=False,
            description="Needs the CSRF token (X-CSRFToken); rate-limited per client; Idempotency-Key makes "
                        "retries safe. The body is checked by the view, which names the field that is wrong.")
def api_subscribe():
    """JSON: ``hromada`` (KATOTTG), ``email``, one of ``settlement`` (id), ``district`` (id or code),
    ``area`` (GeoJSON Polygon/MultiPolygon) or ``whole_hromada: true``; ``categories`` (codes; none: all),
    ``frequency`` (``immediate``/``daily``). Needs the CSRF token; Idempotency-Key makes retries safe.
    200 with ``state``: ``subscribed``, ``confirm`` or ``stopped`` (as for following a report)."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise InvalidInput("Тіло запиту — не правильний JSON-об'єкт", "The request body is not a valid JSON object")
    code = data.get("hromada") if isinstance(data.get("hromada"), str) else None
    key = idempotency_key()

    def act(conn):
        answer = _subscribe(conn, data, code)
        return {"state": answer["state"], "hromada": answer["hromada"], "place": answer["place"],
                "categories": answer["categories"], "frequency": answer["frequency"],
                "feed_url": public_url() + answer["feed_path"]}

    answer, status = run_once("area-alerts", key, request_fingerprint() if key else None, 200, act)
    return jsonify(answer), status


# --- the links in mail -----------------------------------------------------------------------------------

@bp.get("/alerts/confirm/<token>")
def confirm_page(token: str):
    email = followers.read_token(followers.CONFIRM, token)  # a damaged link is a 400 before anything else
    return render_template("alerts/link.html", action="confirm", token=token, done=False,
                           shown=followers.masked(str(email))), 200, NO_STORE


@bp.post("/alerts/confirm/<token>")
@csrf.exempt
def confirm(token: str):
    with engine().begin() as conn:
        email = followers.confirm(conn, token)
    return render_template("alerts/link.html", action="confirm", token=token, done=True,
                           shown=followers.masked(email)), 200, NO_STORE


@bp.get("/alerts/unsubscribe/<token>")
def unsubscribe_page(token: str):
    subscription_id = area_alerts.read_unsubscribe_token(token)
    sub = area_alerts.subscription(connection(), subscription_id)
    return render_template("alerts/link.html", action="unsubscribe", token=token, done=False, sub=sub), 200, NO_STORE


@bp.post("/alerts/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    with engine().begin() as conn:
        sub = area_alerts.unsubscribe_by_token(conn, token)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204  # a mail client's one-click unsubscribe (RFC 8058): nobody reads the answer
    return render_template("alerts/link.html", action="unsubscribe", token=token, done=True, sub=sub), 200, NO_STORE


# --- Atom feeds ------------------------------------------------------------------------------------------

def _feed_lang() -> str:
    return "en" if request.args.get("lang") == "en" else "uk"


def _report_entry(fg: FeedGenerator, facts: dict, base: str, lang: str) -> None:
    url = report_url(base, facts["code"])
    status = getattr(STATUSES[facts["status"]], lang)
    entry = fg.add_entry(order="append")
    entry.id(url)
    entry.title(area_alerts.title(facts, lang))
    entry.link(href=url, rel="alternate", type="text/html")
    entry.published(facts["created_at"])
    entry.updated(facts["updated_at"])
    entry.category(term=facts["category"], label=facts[f"category_{lang}"])
    content = (f"<p>{escape(t('alr_feed_status', lang))}: {escape(status)} · {escape(facts['code'])}</p>"
               f"<p>{escape(facts['description'])}</p>"
               f"<p><a href=\"{escape(url)}\">{escape(t('alr_feed_report_page', lang))}</a></p>")
    entry.content(content, type="html")
    entry.geo.point(f"{facts['lat']:.6f} {facts['lon']:.6f}")


def _announcement_entry(fg: FeedGenerator, item: dict, base: str, lang: str) -> None:
    item = announcements.in_language(item, lang)
    url = f"{base}/map/{item['katottg']}#announcement-{item['id']}"
    entry = fg.add_entry(order="append")
    # A tag URI (RFC 4151): an announcement has no page of its own, and its id must never change.
    entry.id(f"tag:{urlsplit(base).hostname or 'hromada-gis'},2026:announcement:{item['id']}")
    entry.title(f"{item['kind_label']}: {item['title']}")
    entry.link(href=url, rel="alternate", type="text/html")
    entry.published(item["created_at"])
    entry.updated(item["updated_at"])
    entry.category(term=f"announcement:{item['kind']}", label=item["kind_label"])
    when = t("alr_when_span", lang, starts=kyiv_time(item["starts_at"]), ends=kyiv_time(item["ends_at"]))
    ended = (f"<p><strong>{escape(t('alr_ended_at', lang, at=kyiv_time(item['ended_at'])))}</strong></p>"
             if item["ended_at"] else "")
    body = "<br>".join(str(escape(line)) for line in item["body"].splitlines())
    entry.content(f"<p>{escape(t('alr_where', lang))}: {escape(item['place'])}</p>"
                  f"<p>{escape(t('alr_when', lang))}: {escape(when)}</p>{ended}<p>{body}</p>", type="html")


def _atom(*, feed_id: str, title: str, subtitle: str, html_url: str, author: str, lang: str, reports: list[dict],
          notices: list[dict], base: str, fallback_updated) -> Response:
    """An Atom feed (feedgen) of reports and announcements, last change first, answered conditionally
    (ETag of its bytes, Last-Modified of its last change: a reader that has it gets a 304)."""
    fg = FeedGenerator()
    fg.load_extension("geo")
    fg.id(feed_id)
    fg.title(title)
    fg.subtitle(subtitle)
    fg.link(href=feed_id, rel="self", type="application/atom+xml")
    fg.link(href=html_url, rel="alternate", type="text/html")
    fg.author({"name": author})
    fg.language(lang)
    items = [("report", r["updated_at"], r) for r in reports] + [("notice", n["updated_at"], n) for n in notices]
    items.sort(key=lambda item: item[1], reverse=True)
    updated = items[0][1] if items else fallback_updated
    fg.updated(updated)
    for kind, _, item in items:
        if kind == "report":
            _report_entry(fg, item, base, lang)
        else:
            _announcement_entry(fg, item, base, lang)
    body = fg.atom_str(pretty=True)
    response = Response(body, content_type=ATOM)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.last_modified = updated
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)


def _self(base: str, path: str, lang: str) -> str:
    return f"{base}{path}" + ("?lang=en" if lang == "en" else "")


@bp.get("/feeds/<katottg>.atom")
def hromada_feed(katottg: str):
    conn, lang, base = connection(), _feed_lang(), public_url()
    summary = admin_areas.hromada_summary(conn, katottg)
    name = _name(summary, lang)
    return _atom(feed_id=_self(base, f"/feeds/{summary['katottg']}.atom", lang),
                 title=t("alr_feed_title", lang, place=name),
                 subtitle=t("alr_feed_subtitle", lang), html_url=f"{base}/map/{summary['katottg']}", author=name,
                 lang=lang, reports=area_alerts.feed_reports(conn, summary["id"]),
                 notices=announcements.for_feed(conn, summary["id"]), base=base,
                 fallback_updated=admin_areas.hromada_by_id(conn, summary["id"])["created_at"])


@bp.get("/feeds/<katottg>/villages/<village>.atom")
def village_feed(katottg: str, village: str):
    conn, lang, base = connection(), _feed_lang(), public_url()
    summary = admin_areas.hromada_summary(conn, katottg)
    found = area_alerts.village_area(conn, summary["id"], village)
    place = found["name_en"] if lang == "en" else found["name_uk"]
    return _atom(feed_id=_self(base, f"/feeds/{summary['katottg']}/villages/{found['id']}.atom", lang),
                 title=t("alr_feed_title", lang, place=f"{place} ({_name(summary, lang)})"),
                 subtitle=t("alr_feed_subtitle", lang), html_url=f"{base}/map/{summary['katottg']}",
                 author=_name(summary, lang), lang=lang,
                 reports=area_alerts.feed_reports(conn, summary["id"], area_wkb=found["wkb"]),
                 notices=announcements.for_feed(conn, summary["id"], area_wkb=found["wkb"]), base=base,
                 fallback_updated=admin_areas.hromada_by_id(conn, summary["id"])["created_at"])


@bp.get("/feeds/areas/<token>.atom")
def area_feed(token: str):
    conn, lang, base = connection(), _feed_lang(), public_url()
    sub = area_alerts.by_feed_token(conn, token)
    if sub["unsubscribed_at"] is not None:
        error = HromadaError("Підписку на це місце скасовано: стрічки більше немає",
                             "The subscription to this place has ended: the feed is gone")
        error.http_status, error.code = 410, "gone"
        raise error
    place = sub["place_en"] if lang == "en" else sub["place_uk"]
    hromada = sub["hromada_en"] if lang == "en" else sub["hromada_uk"]
    response = _atom(feed_id=_self(base, area_alerts.feed_path(token), lang),
                     title=t("alr_feed_title", lang, place=f"{place} ({hromada})"),
                     subtitle=t("alr_feed_subtitle", lang),
                     html_url=f"{base}/map/{sub['katottg']}", author=hromada, lang=lang,
                     reports=area_alerts.feed_reports(conn, sub["hromada_id"], subscription_id=sub["id"],
                                                      categories=sub["categories"]),
                     notices=announcements.for_feed(conn, sub["hromada_id"], subscription_id=sub["id"]), base=base,
                     fallback_updated=sub["created_at"])
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- announcements: the map's GeoJSON and banner ---------------------------------------------------------

@bp.get("/api/hromadas/<katottg>/announcements")
@documented(summary="The hromada's announcements not over (works, outages) as GeoJSON, for its map",
            tags=("alerts",), query=m.LangQuery, ok=m.FeatureCollection, media="application/geo+json",
            path={"katottg": {"examples": ["UA05020310000080026"]}})
def announcements_geojson(katottg: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, katottg)
    lang = "en" if request.args.get("lang") == "en" else "uk"
    response = jsonify(announcements.geojson(conn, summary["id"], lang))
    response.headers["Content-Type"] = "application/geo+json"
    return response


@bp.app_context_processor
def _banner_helpers():
    def current_announcements(hromada_id: int) -> list[dict]:
        """The hromada's announcements not over, for the banner above its map (webmap/templates/map.html)."""
        return announcements.current(connection(), hromada_id, current_lang())
    return {"current_announcements": current_announcements}


# --- the staff page --------------------------------------------------------------------------------------

def _staff_page(conn, *, values: dict | None = None, error: str | None = None, notice: str | None = None,
                status: int = 200):
    summary = admin_areas.hromada_by_id(conn, g.hromada_id)
    return render_template(
        "alerts/staff.html", summary=summary, hromada_name=_name(summary, current_lang()), user=current_user(),
        items=announcements.listing(conn, g.hromada_id), kinds=announcements.KINDS,
        settlements=list_settlements(conn, g.hromada_id), districts=list_districts(conn, g.hromada_id),
        values=values or {}, error=error, notice=notice), status


@bp.get("/staff/announcements")
@hromada_roles(*STAFF_ROLES, hromada=chosen_hromada(*STAFF_ROLES))
def staff_announcements():
    told = request.args.get("published", "")
    notice = (t("alr_published", n=int(told)) if told.isascii() and told.isdigit() and len(told) < 9
              else t("alr_ended") if request.args.get("ended") else None)
    return _staff_page(connection(), notice=notice)


def _by() -> By:
    user = current_user()
    return By(user.email, user.id)


@bp.post("/staff/announcements")
@hromada_roles(*STAFF_ROLES, hromada=chosen_hromada(*STAFF_ROLES))
def staff_announcement_publish():
    fields = ("kind", "place", "area", "starts_at", "ends_at", "title_uk", "body_uk", "title_en", "body_en")
    values = {k: request.form.get(k, "") for k in fields}
    try:
        with engine().begin() as conn:
            new = announcements.check(values["kind"], values["title_uk"], values["body_uk"], values["starts_at"],
                                      values["ends_at"], values["title_en"], values["body_en"])
            place = place_from(conn, g.hromada_id, values)
            done = announcements.publish(conn, g.hromada_id, new, place, by=_by(), public_url=public_url())
    except HromadaError as exc:
        if exc.http_status >= 500 or exc.http_status in (401, 403):
            raise
        return _staff_page(connection(), values=values, error=exc.message(current_lang()), status=exc.http_status)
    # After "publish", a reload does not publish again.
    return redirect(url_for(".staff_announcements", hromada=request.args.get("hromada"), published=done["told"]), 303)


@bp.post("/staff/announcements/end")
@hromada_roles(*STAFF_ROLES, hromada=chosen_hromada(*STAFF_ROLES))
def staff_announcement_end():
    try:
        with engine().begin() as conn:
            announcements.end(conn, g.hromada_id, request.form.get("id"), by=_by())
    except HromadaError as exc:
        if exc.http_status >= 500 or exc.http_status in (401, 403):
            raise
        return _staff_page(connection(), error=exc.message(current_lang()), status=exc.http_status)
    return redirect(url_for(".staff_announcements", hromada=request.args.get("hromada"), ended=1), 303)
