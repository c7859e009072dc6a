"""Spatial plans in the browser (issue #9): plan pages, the zone editor and its JSON endpoints.

GET  /map/<code>/plans                      the hromada's plans (drafts only for planners and admins)
GET|POST /map/<code>/plans/new              planners: a new draft plan (title, type, territory: the hromada, a
                                            settlement's boundary, or drawn/pasted GeoJSON), then its zone editor
GET|POST /plans/<id>/settings               planners: the plan's title, type, documents, territory (a draft's)
GET  /plans/<id>[?as_of=…|?from=…&to=…]     a plan: zones on a map and in a table, as of a moment, or a diff;
                                            comments; for planners status buttons and moderation
POST /plans/<id>/comments                   a resident comments while the plan is in discussion (CSRF, rate-limited)
POST /plans/<id>/status                     planners: publish, approve (decision No. and date), … (refused: the
                                            page again, the reasons beside the fields)
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
import json
from zoneinfo import ZoneInfo

import folium
from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError

from gis import geojson
from gis.errors import Conflict, HromadaError, InvalidInput, NotFound
from layers import admin_areas, plans
from layers.base import label
from webmap import api_models as m
from webmap import render_error
from webmap.access import current_user, hromada_id_of_katottg, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.extensions import limiter, report_rate_limit
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, SafeGeoJsonPopup, SafeGeoJsonTooltip
from webmap.forms import REQUIRED, Bilingual
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


# --- forms: a new plan, a plan's attributes, a status change (issue #19) ---------------------------

def _area_geometry(text: str | None) -> dict | None:
    """The polygon pasted or drawn (GeoJSON: a geometry, a Feature, or a FeatureCollection of polygons);
    None when the text is no such thing."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        parts = []
        for feature in value.get("features") or []:
            geometry = (feature or {}).get("geometry") if isinstance(feature, dict) else None
            if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
                return None
            parts.extend([geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"])
        value = {"type": "MultiPolygon", "coordinates": parts} if parts else None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    return value


def _polygon_json(_form, field) -> None:
    if (field.data or "").strip() and _area_geometry(field.data) is None:
        raise ValidationError(Bilingual(
            "це не GeoJSON-полігон: намалюйте територію на мапі або вставте GeoJSON Polygon чи MultiPolygon",
            "this is not a GeoJSON polygon: draw the territory on the map or paste a GeoJSON Polygon or MultiPolygon"))


TITLE_RULE = Length(max=plans.PLAN_TITLE_MAX, message=Bilingual(f"до {plans.PLAN_TITLE_MAX} знаків",
                                                                f"at most {plans.PLAN_TITLE_MAX} characters"))
DOCUMENTS_RULE = Length(max=plans.PLAN_DOCUMENTS_MAX, message=Bilingual(
    f"до {plans.PLAN_DOCUMENTS_MAX} знаків", f"at most {plans.PLAN_DOCUMENTS_MAX} characters"))
CHOOSE_ONE = Bilingual("оберіть один з варіантів", "choose one of the options")


class PlanForm(FlaskForm):
    """A new plan: its title, type, territory and documents. The rules themselves are layers.plans'."""
    title = StringField("Назва", validators=[InputRequired(REQUIRED), TITLE_RULE])
    plan_type = SelectField("Вид", choices=list(plans.PLAN_TYPES), validate_choice=False, validators=[
        InputRequired(REQUIRED), AnyOf(tuple(plans.PLAN_TYPES), Bilingual("оберіть вид зі списку",
                                                                          "choose a type from the list"))])
    territory = RadioField("Територія", choices=list(plans.TERRITORIES), default="hromada", validate_choice=False,
                           validators=[InputRequired(REQUIRED), AnyOf(plans.TERRITORIES, CHOOSE_ONE)])
    settlement = SelectField("Населений пункт", choices=[], validate_choice=False, validators=[Optional()])
    area = TextAreaField("Територія (GeoJSON)", validators=[Optional(), _polygon_json])
    repair = BooleanField("Виправити контур")
    documents = TextAreaField("Документи", validators=[Optional(), DOCUMENTS_RULE])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        needs = {"settlement": (self.settlement, Bilingual("оберіть населений пункт", "choose a settlement")),
                 "drawn": (self.area, Bilingual("намалюйте територію на мапі або вставте GeoJSON-полігон",
                                                "draw the territory on the map or paste a GeoJSON polygon"))}
        if self.territory.data in needs:
            field, message = needs[self.territory.data]
            if not (field.data or "").strip() and not field.errors:
                field.errors = [*field.errors, message]
                ok = False
        return ok


class PlanSettingsForm(PlanForm):
    """A plan's attributes: as a new plan's, plus "keep the territory", the revision read, and why."""
    territory = RadioField("Територія", choices=["keep", *plans.TERRITORIES], default="keep", validate_choice=False,
                           validators=[InputRequired(REQUIRED), AnyOf(("keep", *plans.TERRITORIES), CHOOSE_ONE)])
    revision = HiddenField()
    reason = StringField("Чому", validators=[Optional(), Length(max=500, message=Bilingual(
        "до 500 знаків", "at most 500 characters"))])


class PlanStatusForm(FlaskForm):
    status = HiddenField(validators=[InputRequired(REQUIRED)])
    revision = HiddenField()
    decision_number = StringField("Номер рішення", validators=[Optional(), Length(max=100, message=Bilingual(
        "до 100 знаків", "at most 100 characters"))])
    decision_date = StringField("Дата рішення", validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.status.data == "approved":
            if not (self.decision_number.data or "").strip():
                self.decision_number.errors = [*self.decision_number.errors, Bilingual(
                    "для затвердження потрібен номер рішення", "approval needs the decision's number")]
                ok = False
            raw = (self.decision_date.data or "").strip()
            try:
                dt.date.fromisoformat(raw)
            except ValueError:
                message = (Bilingual("дата рішення має бути у вигляді РРРР-ММ-ДД",
                                     "the decision date must look like YYYY-MM-DD") if raw
                           else Bilingual("для затвердження потрібна дата рішення",
                                          "approval needs the decision's date"))
                self.decision_date.errors = [*self.decision_date.errors, message]
                ok = False
        return ok


def _pick(row, lang: str) -> str:
    return (row.get("name_en") if lang == "en" and row.get("name_en") else row.get("name_uk")) or ""


def _say_plan(exc: HromadaError) -> Bilingual:
    """The core's reason as a form says it: "tick Repair" rather than "send repair=true"; a territory, not a zone."""
    uk = exc.uk.replace("надішліть ще раз з repair=true, щоб виправити",
                        "позначте «Виправити контур» і надішліть ще раз")
    en = exc.en.replace("send it again with repair=true to repair it", "tick “Repair the outline” and send again")
    uk = uk.replace("Зона має бути полігоном", "Територія має бути полігоном")
    en = en.replace("A zone must be a polygon", "The territory must be a polygon")
    return Bilingual(uk, en)


def _refused(form: FlaskForm, exc: HromadaError) -> Bilingual:
    """Put the core's reason beside the field it is about (``details['field']``); a territory's reason
    beside the outline when it was drawn, beside the choice otherwise. Returns the reason as shown."""
    if exc.http_status in (401, 403):
        raise exc
    said = _say_plan(exc)
    form.repair_offered = exc.http_status == 422 and "repair=true" in exc.en
    field = (exc.details or {}).get("field")
    if field == "area" and getattr(form, "territory", None) is not None and form.territory.data != "drawn":
        field = "settlement" if form.territory.data == "settlement" else "territory"
    target = getattr(form, field, None) if field else None
    if target is not None and hasattr(target, "errors") and field not in ("revision",):
        target.errors = [*target.errors, said]
    return said


def _territory_map(conn, hromada_id: int, lang: str, *, bounds=None, area: dict | None = None,
                   drawn: str | None = None):
    """The map to draw a territory on (Leaflet-Geoman, webmap/static/plan_new.js), and its data."""
    outline = plans.hromada_outline(conn, hromada_id)
    fmap = base_map(lang, height="420px", bounds=bounds or outline)
    data = {"boundary": outline["shape"], "current": area, "drawn": _area_geometry(drawn), "lang": lang}
    return map_parts(fmap), data


def _plan_form_page(template: str, *, form: FlaskForm, hromada_id: int, status: int = 200, error=None, **context):
    conn, lang = connection(), current_lang()
    plan = context.get("plan")
    parts, map_data = _territory_map(conn, hromada_id, lang, bounds=plan, area=plan["area"] if plan else None,
                                     drawn=form.area.data)
    return render_template(template, form=form, error=error, parts=parts, map_data=map_data, geoman=GEOMAN,
                           types=plans.PLAN_TYPES, statuses=plans.PLAN_STATUSES,
                           repair_offered=getattr(form, "repair_offered", False) or bool(form.repair.data),
                           **context), status


def _settlement_choices(form: PlanForm, hromada_id: int, lang: str) -> list[dict]:
    settlements = plans.settlements_with_areas(connection(), hromada_id)
    form.settlement.choices = [("", "—")] + [(str(s["id"]), _pick(s, lang)) for s in settlements]
    return settlements


def _settlement_id(form: PlanForm) -> int | None:
    raw = (form.settlement.data or "").strip()
    return int(raw) if raw.isdigit() else None


@bp.route("/map/<code>/plans/new", methods=("GET", "POST"))
@hromada_roles(*EDITOR_ROLES, hromada=lambda code, **_: hromada_id_of_katottg(code))
def plan_new(code: str):
    """A new draft plan; made, it opens in the zone editor for its first zones."""
    lang = current_lang()
    summary = admin_areas.hromada_summary(connection(), code)
    form = PlanForm() if request.method == "POST" else PlanForm(formdata=None)
    _settlement_choices(form, g.hromada_id, lang)
    error, status = None, 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                with engine().begin() as conn:
                    plan_id = plans.new_plan(
                        conn, _editor(), hromada_id=g.hromada_id, title=form.title.data, plan_type=form.plan_type.data,
                        territory=form.territory.data, settlement_id=_settlement_id(form),
                        drawn=_area_geometry(form.area.data), documents=form.documents.data, repair=form.repair.data)
            except HromadaError as exc:
                error, status = _refused(form, exc), exc.http_status
            else:
                for layer_name in ("plans",):
                    tile_memory().forget_layer(layer_name)
                return redirect(url_for(".plan_editor", plan_id=plan_id, created=1), 303)
    return _plan_form_page("plans/new.html", form=form, hromada_id=g.hromada_id, status=status, error=error,
                           summary=summary)


@bp.route("/plans/<int:plan_id>/settings", methods=("GET", "POST"))
@hromada_roles(*EDITOR_ROLES, hromada=plan_hromada)
def plan_settings(plan_id: int):
    """A plan's title, type, documents and (a draft's) territory, against the revision the form read."""
    conn, lang = connection(), current_lang()
    plan = plans.get_plan(conn, plan_id, roles=roles_in(g.hromada_id))
    current = None
    if request.method == "GET":
        form = PlanSettingsForm(formdata=None, title=plan["title"], plan_type=plan["plan_type"],
                                documents=plan["documents"] or "", territory="keep",
                                revision=plans.plan_revision(conn, plan_id))
    else:
        form = PlanSettingsForm()
    _settlement_choices(form, g.hromada_id, lang)
    error, status = None, 200
    if request.method == "POST":
        if not plan["editable"]:
            raise Conflict(f"План «{plan['title']}» {plans.PLAN_STATUSES[plan['status']]['uk']}: його не змінюють",
                           f"Plan “{plan['title']}” is {plans.PLAN_STATUSES[plan['status']]['en']}: it is read-only")
        status = 400
        if form.validate_on_submit():
            keep = form.territory.data == "keep"
            try:
                with engine().begin() as write:
                    area = None if keep else plans.territory_geojson(
                        write, g.hromada_id, form.territory.data, settlement_id=_settlement_id(form),
                        drawn=_area_geometry(form.area.data))
                    changed = plans.update_plan(
                        write, _editor(), plan_id, revision=form.revision.data or None, title=form.title.data,
                        plan_type=form.plan_type.data, documents=form.documents.data, area_geojson=area,
                        repair=form.repair.data, reason=form.reason.data)
            except HromadaError as exc:
                error, status = _refused(form, exc), exc.http_status
                if isinstance(exc, plans.PlanChanged):  # theirs stays in the form; the current values beside it
                    current = plans.get_plan(connection(), plan_id, roles=roles_in(g.hromada_id))
                    form.revision.data = exc.current
            else:
                tile_memory().forget_layer("plans")
                return redirect(url_for(".plan_page", plan_id=plan_id, saved=1 if changed else 0) + "#plan-title", 303)
    return _plan_form_page("plans/settings.html", form=form, hromada_id=g.hromada_id, status=status, error=error,
                           plan=plan, current=current)


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
    return _plan_page(plan_id)


def _plan_page(plan_id: int, *, status_form: PlanStatusForm | None = None, status_error=None, code: int = 200):
    """The plan page; a refused status change comes back on it with its reasons beside the fields."""
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
        commented=request.args.get("commented") == "1", attr_label=lambda k: _attr_label(k, lang), value=_value,
        saved=request.args.get("saved"), revision=plans.plan_revision(conn, plan_id) if is_editor else None,
        status_form=status_form, status_error=status_error,
        changes_of_plan=_plan_changes(conn, plan_id, lang) if is_editor else []), code


def _plan_changes(conn, plan_id: int, lang: str) -> list[dict]:
    """The plan's own changes (made, changed, its status moved) as the plan page lists them to planners."""
    out = []
    for entry in plans.plan_changes(conn, plan_id):
        detail, what = entry["detail"] or {}, []
        if entry["action"] == "plan.create":
            what.append(t("plan_change_created", lang))
            territory = detail.get("territory")
            if territory in plans.TERRITORIES:
                what.append(f"{t('plan_territory', lang)}: {t('plan_territory_' + territory, lang)}")
        elif entry["action"] == "plan.status":
            names = [label(plans.PLAN_STATUSES[s], lang) if s in plans.PLAN_STATUSES else str(s)
                     for s in (detail.get("from"), detail.get("to"))]
            what.append(f"{t('plan_status', lang)}: {names[0]} → {names[1]}")
            if detail.get("decision_number"):
                what.append(f"{t('plan_decision')} № {detail['decision_number']} {t('plan_of_date')} "
                            f"{detail.get('decision_date', '')}")
        else:
            names = {"title": t("plan_title", lang), "plan_type": t("plan_type", lang),
                     "documents": t("plan_documents", lang), "territory": t("plan_territory", lang)}
            what.append(f"{t('plan_change_changed', lang)}: "
                        + ", ".join(names.get(c, c) for c in detail.get("changed") or []))
            if detail.get("reason"):
                what.append(f"{t('why_change', lang)}: {detail['reason']}")
        out.append({"at": entry["created_at"], "by": entry["actor"], "what": what})
    return out


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
    """A status change from the plan page; refused, the page comes back with the reasons beside the fields
    (the decision's number and date) and a summary at the top of its form, nothing changed."""
    form = PlanStatusForm()
    if not form.validate_on_submit():
        return _plan_page(plan_id, status_form=form, code=400)
    raw_date = (form.decision_date.data or "").strip()
    try:
        with engine().begin() as conn:
            plans.change_plan_status(conn, plan_id, form.status.data, _editor(),
                                     decision_number=form.decision_number.data,
                                     decision_date=dt.date.fromisoformat(raw_date)
                                     if form.status.data == "approved" else None,
                                     revision=form.revision.data or None)
    except HromadaError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        return _plan_page(plan_id, status_form=form, status_error=Bilingual(exc.uk, exc.en), code=exc.http_status)
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
                           geoman=GEOMAN, statuses=plans.PLAN_STATUSES,
                           created=request.args.get("created") == "1" and plan["editable"])


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
