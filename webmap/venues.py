"""Accessible venues: search by one's own needs, a venue's page, residents' proposals, staff review.

GET  /venues?profile=&place=|lat=&lon=&category=&partial=y   search page (the list is the result; a map follows it)
GET  /api/venues/search?…same…&limit=20                    the same as JSON
GET  /venues/<id>                                          facts, ratings per profile with reasons, history
POST /venues/<id>/proposals                                a resident proposes a correction (CSRF, rate-limited)
GET|POST /venues/new                                       a resident proposes a new venue
GET  /venues/proposals/<id>/photos/<n>.jpg                 a proposal's photo (public once approved)
GET  /staff/venues/proposals                               staff: pending proposals
POST /staff/venues/proposals/<id>                          staff: approve or reject
"""
from __future__ import annotations

import folium
from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, url_for

from gis import geojson
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.photos import MAX_PHOTOS, process_photo
from gis.routing import check_point
from layers import accessibility as acc
from layers import venue_proposals
from layers.admin_areas import katottg_of, settlement_names
from layers.base import label
from webmap import api_models as m
from webmap.access import chosen_hromada, current_user, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.extensions import limiter, report_rate_limit
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, SafeGeoJsonPopup, SafeGeoJsonTooltip
from webmap.i18n import current_lang, t
from webmap.mapview import base_map, display_value, map_parts
from webmap.openapi import documented

bp = Blueprint("venues", __name__)
VENUES = acc.VENUES
EDITORS = tuple(VENUES.permissions.edit)
# The facts a resident can correct, grouped as the venue page shows them.
# The facts a venue page shows and its correction form asks for, under their headings, in this
# order; which field goes under which heading is the declaration's (Field.group).
FACT_GROUPS = tuple((group, tuple(f.name for f in VENUES.fields if f.group == group))
                    for group in ("facts_entrance", "facts_toilet", "facts_parking", "facts_people", "facts_general"))


def _search_args(conn) -> dict | None:
    """The search the query string asks for; None when nothing was asked yet (an empty form)."""
    args = request.args
    profile = args.get("profile") or None
    if profile is None and not args.get("place") and not args.get("lat"):
        return None
    profile = acc.check_profile(profile or "wheelchair")
    if args.get("lat") or args.get("lon"):
        (lon, lat), where = check_point(args.get("lon"), args.get("lat")), t("your_location")
    else:
        lon, lat, where = acc.place_for(conn, args.get("place", ""))
    try:
        limit = int(args.get("limit", 20))
        radius = float(args.get("radius", acc.SEARCH_RADIUS_M))
    except ValueError:
        raise InvalidInput("limit і radius мають бути числами", "limit and radius must be numbers") from None
    category = args.get("category") or None
    return {"lon": lon, "lat": lat, "where": where, "profile": profile, "category": category,
            "include_partial": args.get("partial") in ("y", "1", "true", "on"), "limit": limit, "radius": radius}


def _search(conn, asked: dict, lang: str) -> list[dict]:
    return acc.find_venues(conn, asked["lon"], asked["lat"], asked["profile"], category=asked["category"],
                           include_partial=asked["include_partial"], limit=asked["limit"],
                           radius_m=asked["radius"], lang=lang)


def _results_map(results: list[dict], lang: str) -> dict:
    lats, lons = [v["lat"] for v in results], [v["lon"] for v in results]
    fmap = base_map(lang, height="45vh", bounds=[[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=17)
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
                 "properties": {TOOLTIP_PROPERTY: f"{i}. {v['name']}", "rating": v["rating"],
                                POPUP_PROPERTY: [[t("venue", lang), f"{i}. {v['name']}"],
                                                 [t("rating", lang), v["rating_label"]], [t("why", lang), v["reason"]],
                                                 [t("distance", lang), f"{v['distance_m']} {t('metres', lang)}"]]}}
                for i, v in enumerate(results, start=1)]
    layer = folium.GeoJson(geojson.collection(features),
                           marker=folium.CircleMarker(radius=8, weight=2, fill=True, fill_opacity=0.9),
                           style_function=lambda f: {"color": acc.RATING_COLOURS[f["properties"]["rating"]],
                                                     "fillColor": acc.RATING_COLOURS[f["properties"]["rating"]]})
    layer.add_child(SafeGeoJsonPopup())
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)
    return map_parts(fmap)


def _choices(mapping: dict, lang: str) -> list[tuple[str, str]]:
    return [(code, label(labels, lang)) for code, labels in mapping.items()]


def _suggestion_links(suggestions: list[dict]) -> list[dict]:
    """Each place the search may have meant as a link that runs the same search there (the form's
    other choices kept; coordinates left out, so the place is what counts)."""
    kept = {k: v for k, v in request.args.lists() if k not in ("place", "lat", "lon")}
    return [{"label": s["label"], "href": url_for(".search_page", **kept, place=s["label"])} for s in suggestions]


@bp.get("/venues")
def search_page():
    """The search form and its results. A search the page cannot run (no place given, a place not
    found, a wrong number) keeps the form as it was filled in, says why (400/404 like the JSON API)
    and offers the places the person may have meant."""
    conn, lang = connection(), current_lang()
    status, problem, place_problem, suggestions = 200, None, False, []
    try:
        asked = _search_args(conn)
        results = _search(conn, asked, lang) if asked else None
    except (InvalidInput, NotFound) as exc:
        asked, results, status, problem = None, None, exc.http_status, exc.message(lang)
        suggestions = _suggestion_links(getattr(exc, "suggestions", []))
        typed = request.args.get("lat") or request.args.get("place", "").strip()
        place_problem = isinstance(exc, NotFound) or not typed  # the field to mark as what needs fixing
    villages = settlement_names(conn)
    return render_template(
        "venues/search.html", asked=asked, results=results, villages=villages,
        profiles=_choices(acc.PROFILES, lang), categories=_choices(acc.CATEGORIES, lang),
        parts=_results_map(results, lang) if results else None, args=request.args,
        problem=problem, place_problem=place_problem, suggestions=suggestions), status


@bp.get("/api/venues/search")
@documented(summary="Venues that fit a need profile, nearest first, with distance, rating and the reason in words",
            tags=("venues",), query=m.VenueSearchQuery, ok=m.VenueSearch, errors=(422,))
def search_api():
    conn, lang = connection(), current_lang()
    asked = _search_args(conn)
    if asked is None:
        raise InvalidInput("Вкажіть profile і місце (place або lat і lon)",
                           "Give profile and a place (place, or lat and lon)")
    results = _search(conn, asked, lang)
    return jsonify({"profile": asked["profile"], "near": {"lon": asked["lon"], "lat": asked["lat"]},
                    "include_partial": asked["include_partial"], "category": asked["category"],
                    "venues": results})


def _fact_rows(venue: dict, lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(t(group, lang), [(label(VENUES.field(n).label, lang), display_value(VENUES.field(n), venue.get(n), lang))
                              for n in names]) for group, names in FACT_GROUPS]


def _form_fields(lang: str) -> list[tuple[str, list[dict]]]:
    """The proposal form, derived from the declaration: one labelled control per fact."""
    out = []
    for group, names in FACT_GROUPS:
        controls = []
        for name in names:
            f = VENUES.field(name)
            control = {"name": name, "label": label(f.label, lang), "type": f.type}
            if f.type == "boolean":
                control["options"] = [("", t("unknown_value", lang)), ("так", t("yes", lang)), ("ні", t("no", lang))]
            elif f.choices:
                control["options"] = [("", "—")] + _choices(f.choices, lang)
            controls.append(control)
        out.append((t(group, lang), controls))
    return out


@bp.get("/venues/<int:venue_id>")
def venue_page(venue_id: int):
    conn, lang = connection(), current_lang()
    venue = acc.venue(conn, venue_id)
    return render_template(
        "venues/venue.html", venue=venue, ratings=acc.ratings(venue, lang), facts=_fact_rows(venue, lang),
        category=display_value(VENUES.field("category"), venue["category"], lang),
        history=venue_proposals.history(conn, venue_id, lang), photos=venue_proposals.approved_photos(conn, venue_id),
        form_fields=_form_fields(lang), proposed=request.args.get("proposed") == "1", max_photos=MAX_PHOTOS)


def _proposal_input() -> tuple[dict, dict]:
    """The facts (only those filled in) and the other fields of a proposal form."""
    facts = {name: value for _, names in FACT_GROUPS for name in names
             if (value := request.form.get(name, "").strip())}
    return facts, {"comment": request.form.get("comment"), "name": request.form.get("proposer_name"),
                   "email": request.form.get("proposer_email"), "photos": _photos()}


def _photos() -> list:
    uploads = [u for u in request.files.getlist("photos") if u and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(f"Забагато фото: {len(uploads)}, можна до {MAX_PHOTOS}",
                           f"Too many photos: {len(uploads)}, at most {MAX_PHOTOS}")
    return [process_photo(u.read(), u.filename) for u in uploads]


@bp.post("/venues/<int:venue_id>/proposals")
@limiter.limit(report_rate_limit)
def venue_propose(venue_id: int):
    facts, other = _proposal_input()
    with engine().begin() as conn:
        venue_proposals.propose(conn, venue_id=venue_id, facts=facts, **other)
    return redirect(url_for(".venue_page", venue_id=venue_id, proposed=1) + "#proposal-title")


@bp.route("/venues/new", methods=["GET", "POST"])
@limiter.limit(report_rate_limit, methods=["POST"])
def venue_new():
    lang = current_lang()
    if request.method == "POST":
        facts, other = _proposal_input()
        with engine().begin() as conn:
            venue_proposals.propose(conn, facts=facts, lon=request.form.get("lon"), lat=request.form.get("lat"),
                                    **other)
        return render_template("venues/new.html", form_fields=_form_fields(lang), sent=True, max_photos=MAX_PHOTOS)
    return render_template("venues/new.html", form_fields=_form_fields(lang), sent=False, max_photos=MAX_PHOTOS)


@bp.get("/venues/proposals/<int:proposal_id>/photos/<int:position>.jpg")
def proposal_photo(proposal_id: int, position: int):
    photo = venue_proposals.proposal_photo(connection(), proposal_id, position)
    if photo is None:
        abort(404)
    if photo["status"] != "approved" and not (roles_in(photo["hromada_id"]) & set(EDITORS)):
        raise Forbidden("Фото стане видимим після розгляду", "The photo becomes visible once it is reviewed")
    return Response(photo["data"], mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


@bp.get("/staff/venues/proposals")
@hromada_roles(*EDITORS, hromada=chosen_hromada(*EDITORS))
def proposals_queue():
    conn, lang = connection(), current_lang()
    items = venue_proposals.pending(conn, [g.hromada_id])
    for item in items:
        item["rows"] = [(label(VENUES.field(k).label, lang), display_value(VENUES.field(k), v, lang))
                        for k, v in item["facts"].items()]
    return render_template("venues/proposals.html", items=items, user=current_user())


def proposal_hromada(proposal_id: int, **_) -> int:
    """The hromada of the proposal a view is about (404 when there is none)."""
    return venue_proposals.proposal_hromada_id(connection(), proposal_id)


@bp.post("/staff/venues/proposals/<int:proposal_id>")
@hromada_roles(*EDITORS, hromada=proposal_hromada)
def proposal_decide(proposal_id: int):
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        raise InvalidInput("Рішення: approve або reject", "The decision must be approve or reject")
    with engine().begin() as conn:
        venue_proposals.decide(conn, proposal_id, approve=decision == "approve", user_id=current_user().id,
                               note=request.form.get("note"))
    return redirect(url_for(".proposals_queue", hromada=katottg_of(connection(), g.hromada_id)))
