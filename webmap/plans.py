"""Spatial plans in the browser (issue #9): plan pages, the zone editor and its JSON endpoints.

GET  /map/<code>/plans                      the hromada's plans (drafts only for planners and admins)
GET  /plans/<id>[?as_of=…|?from=…&to=…]     a plan: zones on a map and in a table, as of a moment, or a diff;
                                            comments; for planners status buttons and moderation
POST /plans/<id>/comments                   a resident comments while the plan is in discussion (CSRF, rate-limited)
POST /plans/<id>/status                     planners: publish, approve (decision No. and date), …
POST /plans/comments/<id>                   planners: approve or reject a comment
GET  /plans/<id>/edit                       planners: the editor (Leaflet-Geoman) with the accessible zone form
POST /plans/<id>/zones                      JSON: create a zone {attributes, geometry, reason, repair}
PATCH /plans/zones/<id>                     JSON: {version, attributes?, geometry?, reason, repair}; 412 + current
POST /plans/zones/<id>/split                JSON: {line, version, reason}
DELETE /plans/zones/<id>?version=&reason=   JSON
POST /plans/zones/<id>/revert               JSON {to_version, reason}, or the history page's form
GET  /plans/zones/<id>/history[?version=N]  every version: who, when, why, what changed; one version on a map
GET  /plans/zones/<id>/versions/<n>.geojson one version as a GeoJSON Feature

The rules (overlap, territory, valid geometry, read-only plans, versions) live in layers.plans; this
module only parses requests and renders. Moments without a time mean the end of that day, Kyiv time.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import folium
from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from gis import geojson
from gis.errors import HromadaError, InvalidInput, NotFound
from layers import admin_areas, plans
from layers.base import label
from webmap import api_models as m
from webmap import render_error
from webmap.access import current_user, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.extensions import limiter, report_rate_limit
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, SafeGeoJsonPopup, SafeGeoJsonTooltip
from webmap.i18n import current_lang, format_date, format_datetime, format_number, t
from webmap.mapview import add_boundary, base_map, map_parts
from webmap.openapi import SIGNED_IN, body, documented
from webmap.tiles import tile_memory

bp = Blueprint("plans", __name__)
KYIV = ZoneInfo("Europe/Kyiv")
GEOMAN = "vendor/leaflet-geoman-2.18.3"
EDITOR_ROLES = tuple(sorted(plans.EDITORS))
EDITOR_JSON = ("Answers JSON (errors too) to a request that sends JSON or asks for it (Accept: application/json), "
                "as the editor does; otherwise a refusal is the error page, and a visitor who is not "
                "signed in is sent to the log-in page (302).")
LOGIN_REDIRECT = {"description": "Not signed in, and not asking for JSON: to the log-in page"}
DIFF_STYLES = {  # colour and dash pattern, so the kinds differ by more than colour
    "added": {"color": "#2b8a3e", "fillColor": "#2b8a3e", "weight": 3, "fillOpacity": 0.35},
    "removed": {"color": "#c92a2a", "fillColor": "#c92a2a", "weight": 3, "dashArray": "8 6", "fillOpacity": 0.1},
    "changed": {"color": "#e67700", "fillColor": "#e67700", "weight": 3, "fillOpacity": 0.3},
    "before": {"color": "#495057", "weight": 2, "dashArray": "2 5", "fillOpacity": 0},
}


# --- helpers ---------------------------------------------------------------------------------------

def plan_hromada(plan_id: int, **_) -> int:
    return plans.plan_hromada_id(connection(), plan_id)


def zone_hromada(zone_id: int, **_) -> int:
    """Through the zone's last version too, so a deleted zone can still be brought back."""
    return plans.zone_hromada_id(connection(), zone_id)


def comment_hromada(comment_id: int, **_) -> int:
    return plans.comment_hromada_id(connection(), comment_id)


def _is_editor(hromada_id: int) -> bool:
    return bool(roles_in(hromada_id) & plans.EDITORS)


def _editor() -> plans.Editor:
    """The signed-in editor with the roles held per hromada; layers.plans checks the plan's."""
    user = current_user()
    return plans.Editor(user.id, user.grants)


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.errorhandler(HromadaError)
def _error(error: HromadaError):
    """Errors of this blueprint: JSON for the editor (a conflict carries the current version; an
    invalid geometry says it can be repaired), the error page otherwise."""
    if not _wants_json():
        return render_error(error, as_json=False)
    body = error.to_dict()
    if isinstance(error, plans.VersionConflict):
        body["error"], body["current"] = "version_conflict", error.current
    elif error.http_status == 422 and "repair=true" in error.en:
        body["repairable"] = True
    return jsonify(body), error.http_status


def _moment(raw: str | None, name: str) -> dt.datetime | None:
    """``YYYY-MM-DD`` (the end of that day) or ``YYYY-MM-DDTHH:MM[:SS]`` (Kyiv time unless a zone is given)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            value = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time.max)
        else:
            value = dt.datetime.fromisoformat(raw)
            if len(raw) == 16:  # minutes only: that whole minute
                value = value.replace(second=59, microsecond=999999)
    except ValueError:
        raise InvalidInput(f"{name}: дата має бути у вигляді РРРР-ММ-ДД або РРРР-ММ-ДДTГГ:ХХ",
                           f"{name}: the date must look like YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return value if value.tzinfo else value.replace(tzinfo=KYIV)


def _moment_shown(raw: str | None, moment: dt.datetime | None) -> str:
    """A moment given in the address as the page writes it, in Kyiv time: a day alone by its date (it means
    the end of that day), a time to the minute otherwise."""
    if moment is None:
        return ""
    return format_date(moment) if len((raw or "").strip()) == 10 else format_datetime(moment)


def _author(name: str | None, is_editor: bool) -> str | None:
    """Who made a version, as this page may name them: the full name to everyone; an e-mail address (an
    account without a name) only to the hromada's planners and admins — the public reads "a hromada
    employee", as no address given to the service is shown publicly."""
    if name and "@" in name and not is_editor:
        return t("history_author_staff")
    return name


def _classes(conn) -> dict[str, dict]:
    return {c["code"]: c for c in plans.zone_classes(conn)}


def _class_name(classes: dict, code: str | None, lang: str) -> str:
    found = classes.get(code or "")
    return found[f"name_{lang}"] if found else (code or "—")


def _value(value) -> str:
    """A zone's attribute as the page's language writes it: numbers by Babel (``12,5``), text as it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _attr_label(name: str, lang: str) -> str:
    return label(plans.PLAN_ZONES.field(name).label, lang)


def _row(zone_id: int, version: int, attributes: dict, geometry: dict | None, classes: dict, lang: str) -> dict:
    """A zone as the page shows it (current, as of a moment, or one side of a diff)."""
    return {"id": zone_id, "version": version, "geometry": geometry, **{k: attributes.get(k) for k in plans.ATTRIBUTES},
            "class_name": _class_name(classes, attributes.get("zone_code"), lang),
            "colour": classes.get(attributes.get("zone_code") or "", {}).get("colour", "#868e96")}


def _feature(row: dict, lang: str, style: dict | None = None) -> dict:
    popup = [[t("plan_zone", lang), f"№{row['id']} · {row['zone_code']} — {row['class_name']}"],
             *[[_attr_label(k, lang), _value(row[k])]
               for k in ("name", "permitted_uses", "max_height_m", "max_density")],
             [_attr_label("version", lang), str(row["version"])]]
    return {"type": "Feature", "geometry": row["geometry"],
            "properties": {POPUP_PROPERTY: popup, TOOLTIP_PROPERTY: f"{row['zone_code']} {row['name'] or ''}".strip(),
                           "_style": style or {"color": row["colour"], "fillColor": row["colour"], "weight": 2,
                                               "fillOpacity": 0.45}}}


def _base_map(plan: dict, lang: str, height: str = "60vh") -> folium.Map:
    fmap = base_map(lang, height=height, bounds=plan)
    folium.GeoJson(plan["area"], name=t("plan_area", lang), interactive=False,
                   style_function=lambda _: {"color": "#1971c2", "weight": 2, "dashArray": "6 4",
                                             "fillOpacity": 0}).add_to(fmap)
    return fmap


def _add_features(fmap: folium.Map, name: str, features: list[dict]) -> None:
    if not features:
        return
    layer = folium.GeoJson(geojson.collection(features), name=name,
                           style_function=lambda f: f["properties"]["_style"])
    layer.add_child(SafeGeoJsonPopup())
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)


def _changes(before: dict, after: dict, lang: str) -> list[tuple[str, str, str]]:
    """(label, before, after) for each attribute that differs."""
    return [(_attr_label(k, lang), _value(before.get(k)), _value(after.get(k)))
            for k in plans.ATTRIBUTES if before.get(k) != after.get(k)]


# --- public pages ----------------------------------------------------------------------------------

@bp.get("/map/<code>/plans")
def plan_list(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    items = plans.list_plans(conn, summary["id"], roles=roles_in(summary["id"]))
    return render_template("plans/list.html", summary=summary, items=items, types=plans.PLAN_TYPES,
                           statuses=plans.PLAN_STATUSES, is_editor=_is_editor(summary["id"]), read_only=plans.READ_ONLY)


@bp.get("/plans/<int:plan_id>")
def plan_page(plan_id: int):
    conn, lang, roles = connection(), current_lang(), roles_in(plan_hromada(plan_id=plan_id))
    plan = plans.get_plan(conn, plan_id, roles=roles)
    classes = _classes(conn)
    as_of = _moment(request.args.get("as_of"), "as_of")
    since, until = _moment(request.args.get("from"), "from"), _moment(request.args.get("to"), "to")
    if (since is None) != (until is None):
        raise InvalidInput("Для порівняння потрібні обидві дати: from і to", "A comparison needs both from and to")
    fmap = _base_map(plan, lang)
    boundary = add_boundary(fmap, conn, plan["katottg"], lang)
    changes = None
    if since is not None:
        found = plans.diff(conn, plan_id, since, until, roles=roles)
        changes = {kind: [_row(zid, z["version"], z["attributes"], z["geometry"], classes, lang)
                          for zid, z in sorted(found[kind].items())] for kind in ("added", "removed")}
        changes["changed"] = []
        for zid, pair in sorted(found["changed"].items()):
            after = _row(zid, pair["after"]["version"], pair["after"]["attributes"], pair["after"]["geometry"], classes,
                         lang)
            after["before"] = _row(zid, pair["before"]["version"], pair["before"]["attributes"],
                                   pair["before"]["geometry"], classes, lang)
            after["changes"] = _changes(pair["before"]["attributes"], pair["after"]["attributes"], lang)
            after["geometry_changed"] = pair["before"]["geometry"] != pair["after"]["geometry"]
            changes["changed"].append(after)
        _add_features(fmap, t("diff_before", lang),
                      [_feature(c["before"], lang, DIFF_STYLES["before"]) for c in changes["changed"]])
        for kind in ("removed", "added", "changed"):
            _add_features(fmap, t(f"diff_{kind}", lang), [_feature(r, lang, DIFF_STYLES[kind]) for r in changes[kind]])
        zones = []
    elif as_of is not None:
        zones = [_row(zid, z["version"], z["attributes"], z["geometry"], classes, lang)
                 for zid, z in plans.zones_as_of(conn, plan_id, as_of, roles=roles).items()]
        zones.sort(key=lambda z: (z["zone_code"] or "", z["id"]))
    else:
        zones = [_row(z["id"], z["version"], z, z["geometry"], classes, lang)
                 for z in plans.current_zones(conn, plan_id, roles=roles)]
    if changes is None:
        _add_features(fmap, t("plan_zones", lang), [_feature(z, lang) for z in zones])
    folium.LayerControl(collapsed=False).add_to(fmap)
    used = sorted({z["zone_code"] for z in zones})
    is_editor = bool(roles & plans.EDITORS)
    return render_template(
        "plans/plan.html", plan=plan, zones=zones, changes=changes, parts=map_parts(fmap),
        legend=[*((f"{c} — {_class_name(classes, c, lang)}", classes.get(c, {}).get("colour", "#868e96"))
                  for c in used), boundary],
        diff_legend=[(t(f"diff_{k}_legend", lang), DIFF_STYLES[k]["color"]) for k in ("added", "removed", "changed",
                                                                                      "before")],
        as_of=request.args.get("as_of", ""), since=request.args.get("from", ""), until=request.args.get("to", ""),
        as_of_shown=_moment_shown(request.args.get("as_of"), as_of),
        since_shown=_moment_shown(request.args.get("from"), since),
        until_shown=_moment_shown(request.args.get("to"), until),
        types=plans.PLAN_TYPES, statuses=plans.PLAN_STATUSES, is_editor=is_editor,
        transitions=plans.PLAN_TRANSITIONS[plan["status"]] if is_editor else (),
        comments=plans.comments(conn, plan_id, public=True),
        pending=([c for c in plans.comments(conn, plan_id, public=False) if c["status"] == "pending"]
                 if is_editor else []),
        commented=request.args.get("commented") == "1", attr_label=lambda k: _attr_label(k, lang), value=_value)


@bp.post("/plans/<int:plan_id>/comments")
@limiter.limit(report_rate_limit)
def plan_comment(plan_id: int):
    form = request.form
    zone = (form.get("zone_id") or "").strip()
    if zone and not zone.isdigit():
        raise InvalidInput("zone_id має бути числом", "zone_id must be a number")
    with engine().begin() as conn:
        plans.add_comment(conn, plan_id, form.get("text", ""), author_name=form.get("author_name"),
                          author_email=form.get("author_email"), zone_id=int(zone) if zone else None)
    return redirect(url_for(".plan_page", plan_id=plan_id, commented=1) + "#comments-title")


@bp.post("/plans/<int:plan_id>/status")
@hromada_roles(*EDITOR_ROLES, hromada=plan_hromada)
def plan_status(plan_id: int):
    raw_date = (request.form.get("decision_date") or "").strip()
    try:
        decision_date = dt.date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        raise InvalidInput("Дата рішення має бути у вигляді РРРР-ММ-ДД",
                           "The decision date must look like YYYY-MM-DD") from None
    with engine().begin() as conn:
        plans.set_plan_status(conn, plan_id, request.form.get("status", ""), _editor(),
                              decision_number=request.form.get("decision_number"), decision_date=decision_date)
    for layer_name in ("plans", "plan_zones"):  # publishing shows them: no kept tile may still hide them
        tile_memory().forget_layer(layer_name)
    return redirect(url_for(".plan_page", plan_id=plan_id) + "#status-title")


@bp.post("/plans/comments/<int:comment_id>")
@hromada_roles(*EDITOR_ROLES, hromada=comment_hromada)
def comment_decide(comment_id: int):
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        raise InvalidInput("Рішення: approve або reject", "The decision must be approve or reject")
    with engine().begin() as conn:
        plan_id = plans.moderate_comment(conn, _editor(), comment_id, approve=decision == "approve")
    return redirect(url_for(".plan_page", plan_id=plan_id) + "#moderation-title")


# --- history ---------------------------------------------------------------------------------------

@bp.get("/plans/zones/<int:zone_id>/history")
def zone_history_page(zone_id: int):
    conn, lang, roles = connection(), current_lang(), roles_in(zone_hromada(zone_id=zone_id))
    versions = plans.zone_history(conn, zone_id, roles=roles)
    plan = plans.get_plan(conn, plans.zone_plan_id(conn, zone_id), roles=roles)
    classes = _classes(conn)
    is_editor = bool(roles & plans.EDITORS)
    for newer, older in zip(versions, versions[1:] + [None], strict=True):
        newer["by"] = _author(newer["by"], is_editor)
        newer["at_kyiv"] = dt.datetime.fromisoformat(newer["at"]).astimezone(KYIV).isoformat(timespec="seconds")
        newer["changes"] = _changes(older["attributes"], newer["attributes"], lang) if older else []
        newer["geometry_changed"] = bool(older and newer["geometry"] and older["geometry"] != newer["geometry"])
        newer["class_name"] = _class_name(classes, newer["attributes"].get("zone_code"), lang)
    drawable = [v for v in versions if v["geometry"]]
    try:
        shown_version = int(request.args.get("version") or (drawable[0]["version"] if drawable else 0))
    except ValueError:
        raise InvalidInput("version має бути числом", "version must be a number") from None
    shown = next((v for v in drawable if v["version"] == shown_version), None)
    parts = None
    if shown is not None:
        fmap = _base_map(plan, lang, height="320px")
        row = _row(zone_id, shown["version"], shown["attributes"], shown["geometry"], classes, lang)
        _add_features(fmap, f"{t('version', lang)} {shown['version']}", [_feature(row, lang)])
        parts = map_parts(fmap)
    return render_template("plans/history.html", zone_id=zone_id, versions=versions, plan=plan, parts=parts,
                           shown=shown, can_revert=is_editor and plan["editable"],
                           reverted=request.args.get("reverted"), attr_label=lambda k: _attr_label(k, lang),
                           value=_value)


@bp.get("/plans/zones/<int:zone_id>/versions/<int:version>.geojson")
@documented(summary="One version of a plan zone as a GeoJSON Feature", tags=("plans",), ok=m.Feature,
            media="application/geo+json")
def zone_version_geojson(zone_id: int, version: int):
    versions = plans.zone_history(connection(), zone_id, roles=roles_in(zone_hromada(zone_id=zone_id)))
    found = next((v for v in versions if v["version"] == version), None)
    if found is None:
        raise NotFound(f"Версії {version} зони {zone_id} немає", f"Zone {zone_id} has no version {version}")
    feature = {"type": "Feature", "id": zone_id, "geometry": found["geometry"],
               "properties": {**found["attributes"], "version": version, "operation": found["operation"],
                              "changed_at": found["at"], "reason": found["reason"]}}
    return jsonify(feature), 200, {"Content-Type": "application/geo+json"}


# --- the editor and its JSON endpoints -------------------------------------------------------------

@bp.get("/plans/<int:plan_id>/edit")
@hromada_roles(*EDITOR_ROLES, hromada=plan_hromada)
def plan_editor(plan_id: int):
    conn, lang, roles = connection(), current_lang(), roles_in(g.hromada_id)
    plan = plans.get_plan(conn, plan_id, roles=roles)
    classes = plans.zone_classes(conn)
    fmap = base_map(lang, bounds=plan)
    # Read-only (approved or superseded, or no editor's role here): no form at all, only the notice (#19).
    plan["editable"] = plan["editable"] and bool(roles & plans.EDITORS)
    data = {"plan": {"id": plan["id"], "status": plan["status"], "editable": plan["editable"], "area": plan["area"]},
            "zones": plans.current_zones(conn, plan_id, roles=roles),
            "classes": [{"code": c["code"], "name": c[f"name_{lang}"], "colour": c["colour"]} for c in classes],
            "labels": {k: _attr_label(k, lang) for k in plans.ATTRIBUTES}, "lang": lang}
    return render_template("plans/editor.html", plan=plan, parts=map_parts(fmap), data=data, classes=classes,
                           geoman=GEOMAN, statuses=plans.PLAN_STATUSES)


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} має бути цілим числом", f"{name} must be an integer") from None


@bp.post("/plans/<int:plan_id>/zones")
@hromada_roles(*EDITOR_ROLES, hromada=plan_hromada)
@documented(summary="The plan editor: create a zone", tags=("plans",), headers=m.CsrfHeaders, security=SIGNED_IN,
            responses={302: LOGIN_REDIRECT}, json=m.ZoneCreateIn, ok=m.Zone, status=201,
            errors=(401, 403, 409, 422), description=EDITOR_JSON)
def zone_create(plan_id: int):
    data: m.ZoneCreateIn = body()
    with engine().begin() as conn:
        zone = plans.create_zone(conn, _editor(), plan_id, data.attributes, data.geometry, reason=data.reason,
                                 repair=data.repair)
    return jsonify(zone), 201


@bp.patch("/plans/zones/<int:zone_id>")
@hromada_roles(*EDITOR_ROLES, hromada=zone_hromada)
@documented(summary="The plan editor: change a zone (412 with the current version when it changed meanwhile)",
            tags=("plans",), headers=m.CsrfHeaders, security=SIGNED_IN, responses={302: LOGIN_REDIRECT},
            json=m.ZoneUpdateIn, ok=m.Zone, errors=(401, 403, 409, 412, 422), description=EDITOR_JSON)
def zone_update(zone_id: int):
    data: m.ZoneUpdateIn = body()
    with engine().begin() as conn:
        zone = plans.update_zone(conn, _editor(), zone_id, data.version, attributes=data.attributes,
                                 geometry=data.geometry, reason=data.reason, repair=data.repair)
    return jsonify(zone)


@bp.post("/plans/zones/<int:zone_id>/split")
@hromada_roles(*EDITOR_ROLES, hromada=zone_hromada)
@documented(summary="The plan editor: split a zone along a line", tags=("plans",), headers=m.CsrfHeaders,
            security=SIGNED_IN, responses={302: LOGIN_REDIRECT}, json=m.ZoneSplitIn, ok=m.SplitZones,
            errors=(401, 403, 409, 412, 422), description=EDITOR_JSON)
def zone_split(zone_id: int):
    data: m.ZoneSplitIn = body()
    if data.line.get("type") != "LineString":
        raise InvalidInput("line має бути GeoJSON LineString", "line must be a GeoJSON LineString")
    with engine().begin() as conn:
        zones = plans.split_zone(conn, _editor(), zone_id, data.version, data.line, reason=data.reason)
    return jsonify({"zones": zones})


@bp.delete("/plans/zones/<int:zone_id>")
@hromada_roles(*EDITOR_ROLES, hromada=zone_hromada)
@documented(summary="The plan editor: delete a zone (?version=&reason=)", tags=("plans",), headers=m.CsrfHeaders,
            security=SIGNED_IN, responses={302: LOGIN_REDIRECT}, query=m.ZoneDeleteQuery,
            ok=m.ZoneDeleted, errors=(401, 403, 409, 412), description=EDITOR_JSON)
def zone_delete(zone_id: int):
    with engine().begin() as conn:
        plans.delete_zone(conn, _editor(), zone_id, _int(request.args.get("version"), "version"),
                          reason=request.args.get("reason"))
    return jsonify({"deleted": zone_id})


@bp.post("/plans/zones/<int:zone_id>/revert")
@hromada_roles(*EDITOR_ROLES, hromada=zone_hromada)
@documented(summary="Make an earlier version of a zone the current one (JSON, or the history page's form)",
            tags=("plans",), headers=m.CsrfHeaders, security=SIGNED_IN, responses={302: LOGIN_REDIRECT},
            json=m.ZoneRevertIn, form=m.ZoneRevertIn, form_media=("application/x-www-form-urlencoded",),
            ok=m.Zone, errors=(401, 403, 409, 412, 422),
            description=EDITOR_JSON + " The history page's form is answered with a redirect to the history (302).")
def zone_revert(zone_id: int):
    data: m.ZoneRevertIn = body()
    with engine().begin() as conn:
        zone = plans.revert(conn, _editor(), zone_id, data.to_version, reason=data.reason)
    if request.is_json:
        return jsonify(zone)
    return redirect(url_for(".zone_history_page", zone_id=zone_id, reverted=zone["version"]) + "#history-title")
