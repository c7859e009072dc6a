"""Staff edit the hromada's layers in the browser (issue #19): one editor for every editable layer,
its form derived from the layer's declaration (layers.base: fields, labels, choices, ranges).

GET       /staff/edit/?hromada=KATOTTG             the layers the signed-in person may edit in the hromada
GET       /staff/edit/<name>?q=&page=&hromada=     the hromada's features of a layer: search by name or number,
                                                   50 a page, a map; "add a feature"
GET|POST  /staff/edit/<name>/new?hromada=          a new feature: the form, then (303) its page
GET|POST  /staff/edit/<name>/<id>                  a feature: its form (the version it edits in a hidden field;
                                                   a stale version comes back as "yours" and "current", nothing
                                                   written) and its history, newest first
GET|POST  /staff/edit/<name>/<id>/delete           confirm, then delete (its version named too)
POST      /staff/edit/<name>/<id>/revert           make an earlier version current again (layers.history.revert)

The forms are server-rendered (Flask-WTF, CSRF) and work without JavaScript: a point is its latitude and
longitude, a line or polygon a GeoJSON text; static/feature_editor.js adds the map (drag the point, draw and
reshape with Leaflet-Geoman, with snapping). Every rule — values as importers check them, the geometry in
the feature's hromada, who may do what, the version — lives in layers.editing; this module only reads the
form, calls it and renders what it answers. Roles are per hromada: another hromada's feature is a 403.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re

import sqlalchemy as sa
from flask import Blueprint, flash, g, get_flashed_messages, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from gis.errors import Forbidden, HromadaError, InvalidInput, NotFound, PreconditionFailed
from gis.hromada_setup import hromada_outline, list_units
from layers import editing, history, query
from layers.admin_areas import hromada_by_id, hromadas_by_ids, unit_names
from layers.base import Field, Layer, label
from layers.registry import get_layer
from layers.values import BadValue, convert
from webmap.access import chosen_hromada, current_user, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.forms import REQUIRED, Bilingual, raise_for
from webmap.i18n import current_lang, format_date, format_datetime, format_field_number, t
from webmap.mapview import base_map, display_value, map_parts

bp = Blueprint("editor", __name__, url_prefix="/staff/edit")
GEOMAN = "vendor/leaflet-geoman-2.18.3"
ACTIONS = ("create", "update", "delete")
PAGE_SIZE = 50
POINT = "Point"
# Text fields a person finds a feature by, besides its label field and its asset number.
SEARCHED = ("ref", "name", "inventory_number", "address", "cadastral_number")
LONG_TEXT = ("documents", "notes", "description", "permitted_uses")
COORD_DIGITS = 7  # ~1 cm: what the form shows and compares


def _roles_of(layer: Layer) -> frozenset[str]:
    return frozenset().union(*(layer.permissions.roles_to(a) for a in ACTIONS))


# Whoever may edit some layer somewhere passes the route's check; the layer's own roles for the action
# are checked in the view (and again in layers.editing).
EDIT_ROLES = tuple(sorted(frozenset().union(*(_roles_of(layer) for layer in editing.editable_layers()))))


# --- which layer, which hromada --------------------------------------------------------------------

def _layer(name: str) -> Layer:
    try:
        layer = get_layer(name)
    except (KeyError, NotFound):
        layer = None
    if layer is None or layer.name not in {e.name for e in editing.editable_layers()}:
        raise NotFound(f"Шар {name!r} не редагують у браузері", f"Layer {name!r} is not edited in the browser")
    return layer


def feature_hromada(name: str, feature_id: int, **_) -> int:
    """The hromada of the feature (a deleted one's from its history); 404 when there is none."""
    layer = _layer(name)
    conn = connection()
    found = query.feature_hromada_id(conn, layer, feature_id)
    if found is None and layer.keeps_history:
        found = history.feature_hromada_id(conn, layer, feature_id)
    if found is None:
        raise NotFound(f"У шарі {name} немає об'єкта {feature_id}", f"Layer {name} has no feature {feature_id}")
    return found


def _may(layer: Layer, action: str, hromada_id: int | None = None) -> bool:
    return editing.can_edit(layer, roles_in(g.hromada_id if hromada_id is None else hromada_id), action)


def _require(layer: Layer, action: str) -> None:
    if not _may(layer, action):
        title_uk, title_en = label(layer.title, "uk"), label(layer.title, "en")
        raise Forbidden(f"Шар «{title_uk}» у цій громаді вам не дозволено {_ACTION_UK[action]}",
                        f"You may not {action} features of “{title_en}” in this hromada")


_ACTION_UK = {"create": "доповнювати", "update": "змінювати", "delete": "вилучати з"}


def _editor() -> editing.Editor:
    user = current_user()
    return editing.Editor(user.id, user.grants, user.full_name or user.email)


def _hromada_context() -> dict:
    conn, user = connection(), current_user()
    mine = [h for h, held in user.grants.items() if held & set(EDIT_ROLES)]
    return {"hromada": hromada_by_id(conn, g.hromada_id), "hromadas": hromadas_by_ids(conn, mine),
            "user": user, "messages": get_flashed_messages()}


def _pick(row, lang: str) -> str:
    return (row.get("name_en") if lang == "en" and row.get("name_en") else row.get("name_uk")) or ""


# --- the form, from the declaration ----------------------------------------------------------------

def editable_fields(layer: Layer) -> list[Field]:
    """The fields a person sets in the form (layers.editing: the input fields less those the service keeps)."""
    return [f for f in editing.editable_fields(layer) if f.type != "hromada"]


def _key(f: Field) -> str:
    return f"f_{f.name}"


class _Base(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(validators=[Optional(), Length(max=500, message=Bilingual(
        "до 500 знаків", "at most 500 characters"))])
    lat = StringField(validators=[Optional(), Length(max=40)])
    lon = StringField(validators=[Optional(), Length(max=40)])
    geometry = TextAreaField(validators=[Optional(), Length(max=2_000_000)])


def _form(layer: Layer, data: dict | None = None) -> FlaskForm:
    """A form class for the layer's fields (built per request: the choices are the page's language)."""
    attrs = {}
    for f in editable_fields(layer):
        if f.type in ("choice", "boolean", "unit"):
            attrs[_key(f)] = SelectField(choices=[], validate_choice=False, validators=[Optional()])
        elif f.type == "json" or f.name in LONG_TEXT:
            attrs[_key(f)] = TextAreaField(validators=[Optional(), Length(max=20000)])
        else:
            attrs[_key(f)] = StringField(validators=[Optional(), Length(max=2000, message=Bilingual(
                "до 2000 знаків", "at most 2000 characters"))])
    cls = type("FeatureForm", (_Base,), attrs)
    return cls(data=data) if data is not None else cls()


def _options(layer: Layer, hromada_id: int, lang: str) -> dict[str, list[tuple[str, str]]]:
    """The choices of each select: an empty one first, then the declared labels (or the hromada's units)."""
    out = {}
    for f in editable_fields(layer):
        if f.type == "choice":
            out[f.name] = [("", "—"), *((code, label(labels, lang)) for code, labels in (f.choices or {}).items())]
        elif f.type == "boolean":
            out[f.name] = [("", "—"), ("true", t("yes")), ("false", t("no"))]
        elif f.type == "unit":
            out[f.name] = [("", "—"), *((str(u["id"]), _pick(u, lang)) for u in list_units(connection(), hromada_id))]
    return out


def _as_text(f: Field, value) -> str:
    """A typed value as the form's input holds it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, "f").rstrip("0").rstrip(".") if value == value else ""
    if f.type == "json" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _coord(value: float) -> str:
    return format(round(value, COORD_DIGITS), "f").rstrip("0").rstrip(".")


def _point_of(geometry: dict | None) -> tuple[float, float] | None:
    if geometry and geometry.get("type") == POINT and len(geometry.get("coordinates") or ()) >= 2:
        lon, lat = geometry["coordinates"][:2]
        return lat, lon
    return None


def _form_data(layer: Layer, feature) -> dict:
    data = {_key(f): _as_text(f, feature.properties.get(f.name)) for f in editable_fields(layer)}
    data["version"] = str(feature.version)
    point = _point_of(feature.geometry)
    if layer.geometry == POINT and point:
        data["lat"], data["lon"] = _coord(point[0]), _coord(point[1])
    elif feature.geometry is not None:
        data["geometry"] = json.dumps(feature.geometry)
    return data


def _type_message(f: Field) -> Bilingual:
    if f.type in ("number", "money"):
        return Bilingual("потрібне число, напр. 12,5", "a number is needed, e.g. 12.5")
    if f.type in ("integer",):
        return Bilingual("потрібне ціле число", "a whole number is needed")
    if f.type in ("date", "datetime"):
        return Bilingual("потрібна дата у вигляді РРРР-ММ-ДД", "a date is needed, as YYYY-MM-DD")
    if f.type in ("choice", "unit", "boolean"):
        return Bilingual("оберіть значення зі списку", "choose a value from the list")
    if f.type == "json":
        return Bilingual("це не JSON", "this is not JSON")
    return Bilingual("неправильне значення", "not a valid value")


def _typed(layer: Layer, form) -> dict:
    """The form's values as the fields' types; a value that is not one goes beside its field."""
    values = {}
    for f in editable_fields(layer):
        field = form[_key(f)]
        raw = (field.data or "").strip() if isinstance(field.data, str) else field.data
        if f.required and raw in (None, ""):
            field.errors = [*field.errors, REQUIRED]
            continue
        try:
            value = convert(f, raw)
        except BadValue as exc:
            text = str(exc)
            message = Bilingual(*text.split(" / ", 1)) if " / " in text else _type_message(f)
            field.errors = [*field.errors, message]
            continue
        low, high = getattr(f, "minimum", None), getattr(f, "maximum", None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                (low is not None and value < low) or (high is not None and value > high)):
            field.errors = [*field.errors, _range_message(low, high)]
            continue
        values[f.name] = value
    return values


def _range_message(low, high) -> Bilingual:
    def n(x):
        return format(x, "g")
    if low is not None and high is not None:
        return Bilingual(f"від {n(low)} до {n(high)}", f"from {n(low)} to {n(high)}")
    if low is not None:
        return Bilingual(f"не менше {n(low)}", f"at least {n(low)}")
    return Bilingual(f"не більше {n(high)}", f"at most {n(high)}")


def _number(text: str) -> float | None:
    text = (text or "").strip().replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _geometry(layer: Layer, form, required: bool) -> dict | None:
    """The geometry the form gives: latitude and longitude for a point, GeoJSON otherwise; None when empty."""
    if layer.geometry == POINT:
        lat_text, lon_text = (form.lat.data or "").strip(), (form.lon.data or "").strip()
        if not lat_text and not lon_text:
            if required:
                form.lat.errors = [*form.lat.errors, Bilingual(
                    "вкажіть місце: широту й довготу (або клацніть на мапі)",
                    "give the place: latitude and longitude (or click the map)")]
            return None
        lat, lon = _number(lat_text), _number(lon_text)
        ok = True
        if lat is None or not -90 <= lat <= 90:
            form.lat.errors = [*form.lat.errors, Bilingual("широта — число від −90 до 90, напр. 49,23",
                                                           "the latitude is a number from −90 to 90, e.g. 49.23")]
            ok = False
        if lon is None or not -180 <= lon <= 180:
            form.lon.errors = [*form.lon.errors, Bilingual("довгота — число від −180 до 180, напр. 28,41",
                                                           "the longitude is a number from −180 to 180, e.g. 28.41")]
            ok = False
        return {"type": POINT, "coordinates": [lon, lat]} if ok else None
    text = (form.geometry.data or "").strip()
    if not text:
        if required:
            form.geometry.errors = [*form.geometry.errors, Bilingual(
                "намалюйте об'єкт на мапі або вставте його GeoJSON",
                "draw the feature on the map or paste its GeoJSON")]
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if isinstance(value, dict) and value.get("type") == "FeatureCollection" and len(value.get("features") or ()) == 1:
        value = value["features"][0].get("geometry")
    if not isinstance(value, dict) or "type" not in value:
        form.geometry.errors = [*form.geometry.errors, Bilingual(
            f"це не GeoJSON-геометрія ({layer.geometry})", f"this is not a GeoJSON geometry ({layer.geometry})")]
        return None
    return value


def _same_geometry(a: dict | None, b: dict | None) -> bool:
    """Whether two geometries are the same to the form's precision (a point to ~1 cm)."""
    if a is None or b is None:
        return a is b
    pa, pb = _point_of(a), _point_of(b)
    if pa and pb:
        return all(abs(x - y) < 0.5 * 10 ** -COORD_DIGITS for x, y in zip(pa, pb, strict=True))

    def rounded(value):
        if isinstance(value, float):
            return round(value, COORD_DIGITS + 2)
        if isinstance(value, (list, tuple)):
            return [rounded(v) for v in value]
        return value
    return a.get("type") == b.get("type") and rounded(a.get("coordinates")) == rounded(b.get("coordinates"))


def _field_errors(form, layer: Layer, exc: HromadaError) -> None:
    """Put the core's field messages beside their fields (``details['fields']`` or ``details['field']``)."""
    details = exc.details or {}
    names = {f.name: _key(f) for f in editable_fields(layer)}
    names.update(geometry="lat" if layer.geometry == POINT else "geometry", version="version", reason="reason")
    fields = details.get("fields")
    if isinstance(fields, dict):
        for name, messages in fields.items():
            target = names.get(name)
            if target is None:
                continue
            for m in messages if isinstance(messages, list) else [messages]:
                text = Bilingual(m.get("uk", ""), m.get("en", m.get("uk", ""))) if isinstance(m, dict) else \
                    Bilingual(str(m), str(m))
                form[target].errors = [*form[target].errors, text]
    elif details.get("field") in names:
        target = names[details["field"]]
        form[target].errors = [*form[target].errors, Bilingual(exc.uk, exc.en)]


def _has_field_errors(form) -> bool:
    return any(form[name].errors for name in form._fields if name != "csrf_token")


# --- showing values and history -------------------------------------------------------------------

def _unit_names(layer: Layer, rows, lang: str) -> dict:
    unit_fields = [f.name for f in layer.fields if f.type == "unit"]
    return unit_names(connection(), (r.get(n) for r in rows for n in unit_fields), lang) if unit_fields else {}


def _shown(f: Field, value, lang: str, units: dict) -> str:
    """A value as a person reads it: choice labels, units by name, numbers and dates in the page's way."""
    if value is None or value == "":
        return "—"
    number = format_field_number(value, f.type, lang)
    if number is not None:
        return number
    if f.type == "date":
        try:
            return format_date(value, lang=lang)
        except (ValueError, TypeError):
            return str(value)
    if f.type == "datetime":
        try:
            return format_datetime(value, lang=lang)
        except (ValueError, TypeError):
            return str(value)
    return display_value(f, value, lang, units)


def _versions(layer: Layer, feature_id: int, lang: str) -> list[dict]:
    """The feature's versions, newest first, as the page lists them: who, when, why, what changed."""
    if not layer.keeps_history:
        return []
    found = history.history_for(connection(), layer, feature_id, history.FULL, lang)["versions"]
    fields = {f.name: f for f in layer.fields}
    units = _unit_names(layer, [v["properties"] for v in found], lang)
    out = []
    for i, v in enumerate(found):
        before = found[i + 1]["properties"] if i + 1 < len(found) else {}
        changed = v["changed"] if v["op"] == "update" else None
        if v["op"] == "update" and changed is None:
            changed = [k for k in fields if before.get(k) != v["properties"].get(k)]
        changes = [(label(fields[k].label, lang), _shown(fields[k], before.get(k), lang, units),
                    _shown(fields[k], v["properties"].get(k), lang, units))
                   for k in (changed or []) if k in fields]
        facts = [(label(f.label, lang), _shown(f, v["properties"].get(f.name), lang, units))
                 for f in layer.fields if v["properties"].get(f.name) not in (None, "")] if v["op"] == "insert" else []
        out.append({"version": v["version"], "op": v["op"], "at": v["valid_from"], "by": v.get("user_label"),
                    "reason": v.get("reason"), "changes": changes, "facts": facts,
                    "geometry_changed": bool(changed and "geometry" in changed),
                    "versionless": v.get("versionless")})
    return out


def _title(layer: Layer, properties: dict, feature_id: int | None) -> str:
    name = properties.get(layer.label_field) if layer.label_field else None
    if name in (None, "") and layer.asset is not None:
        name = properties.get(layer.asset.ref_field)
    return f"{name}" if name not in (None, "") else (f"№ {feature_id}" if feature_id else "")


# --- the map's data, for feature_editor.js -----------------------------------------------------------

def _map(hromada: dict, lang: str, geometry: dict | None, height: str = "420px") -> dict:
    outline = hromada_outline(connection(), hromada["katottg"])
    point = _point_of(geometry)
    if point:
        fmap = base_map(lang, height=height, location=list(point), zoom=17)
    else:
        fmap = base_map(lang, height=height, bounds=[[outline["miny"], outline["minx"]],
                                                     [outline["maxy"], outline["maxx"]]])
    return {"parts": map_parts(fmap), "boundary": outline["shape"]}


# --- the pages ---------------------------------------------------------------------------------------

@bp.app_context_processor
def _editor_link():
    def feature_editor_link() -> bool:
        """Whether the staff bar links to the editor: the user may edit some layer somewhere."""
        user = current_user()
        return bool(user and user.grants and any(held & set(EDIT_ROLES) for held in user.grants.values()))
    return {"feature_editor_link": feature_editor_link}


@bp.get("/")
@hromada_roles(*EDIT_ROLES, hromada=chosen_hromada(*EDIT_ROLES))
def index():
    """The layers the signed-in person may edit in the hromada, with their numbers of features."""
    conn, lang = connection(), current_lang()
    roles = roles_in(g.hromada_id)
    layers = []
    for layer in editing.editable_layers():
        may = {a: editing.can_edit(layer, roles, a) for a in ACTIONS}
        if may["update"] or may["create"]:
            layers.append({"layer": layer, "title": label(layer.title, lang), "may": may,
                           "count": query.count_features(conn, layer, hromada_id=g.hromada_id, roles=roles)})
    return render_template("editor/index.html", layers=layers, **_hromada_context())


def _search(layer: Layer, text: str):
    """A condition on the layer's naming text fields (its label, its asset number, name, address …)."""
    table = query.table_of(layer)
    names = {layer.label_field, layer.asset.ref_field if layer.asset else None, *SEARCHED}
    columns = [table.c[f.column_name] for f in layer.fields
               if f.name in names and f.type == "text" and f.column_name in table.c]
    if not text or not columns:
        return None
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.or_(*(c.ilike(pattern, escape="\\") for c in columns))


@bp.get("/<name>")
@hromada_roles(*EDIT_ROLES, hromada=chosen_hromada(*EDIT_ROLES))
def feature_list(name: str):
    """The hromada's features of a layer: searchable by name or number, a page at a time, and a map."""
    layer = _layer(name)
    if not (_may(layer, "update") or _may(layer, "create")):
        _require(layer, "update")
    conn, lang = connection(), current_lang()
    table = query.table_of(layer)
    text = (request.args.get("q") or "").strip()[:200]
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    conditions = [table.c[layer.hromada_column] == g.hromada_id] if layer.hromada_column else []
    found = _search(layer, text)
    if found is not None:
        conditions.append(found)
    items, matched, _ = query.read_features(conn, layer, conditions=conditions, staff=True,
                                            roles=roles_in(g.hromada_id),
                                            page=query.Page(PAGE_SIZE, (page - 1) * PAGE_SIZE))
    units = _unit_names(layer, [i["properties"] for i in items], lang)
    summary = [f for f in (layer.popup or ()) if layer.field(f).public][:3]
    rows = [{"id": i["id"], "title": _title(layer, i["properties"], i["id"]),
             "facts": [(label(layer.field(f).label, lang), _shown(layer.field(f), i["properties"].get(f), lang, units))
                       for f in summary if f != layer.label_field],
             "geometry": i["geometry"]} for i in items]
    context = _hromada_context()
    shown = _map(context["hromada"], lang, None)
    map_data = {"mode": "list", "boundary": shown["boundary"], "lang": lang,
                "features": [{"id": r["id"], "title": r["title"], "geometry": r["geometry"],
                              "url": url_for(".feature_page", name=name, feature_id=r["id"])} for r in rows]}
    pages = max(1, math.ceil(matched / PAGE_SIZE))
    return render_template("editor/list.html", layer=layer, title=label(layer.title, lang), rows=rows, q=text,
                           page=page, pages=pages, matched=matched, may_create=_may(layer, "create"),
                           parts=shown["parts"], map_data=map_data, **context)


def _render_form(layer: Layer, form, *, feature=None, status: int = 200, error=None, conflict=None,
                 feature_id: int | None = None):
    lang = current_lang()
    context = _hromada_context()
    geometry = feature.geometry if feature is not None else None
    shown = _map(context["hromada"], lang, geometry)
    options = _options(layer, g.hromada_id, lang)
    for f in editable_fields(layer):  # a value the list lacks (another hromada's unit) stays, never cleared
        value = form[_key(f)].data
        if f.name in options and value not in (None, "") and value not in {v for v, _ in options[f.name]}:
            shown_as = unit_names(connection(), [int(value)], lang).get(int(value)) if (
                f.type == "unit" and str(value).isdigit()) else None
            options[f.name].append((value, shown_as or str(value)))
    fields = [{"field": f, "key": _key(f), "label": label(f.label, lang), "options": options.get(f.name),
               "staff_only": not f.public, "hint": _hint(f)} for f in editable_fields(layer)]
    versions = _versions(layer, feature_id, lang) if feature_id is not None else []
    title = _title(layer, feature.properties, feature_id) if feature is not None else ""
    map_data = {"mode": "point" if layer.geometry == POINT else "shape", "geometry_type": layer.geometry,
                "boundary": shown["boundary"], "lang": lang, "neighbours": _neighbours(layer, feature),
                "current": conflict["geometry"] if conflict and conflict.get("geometry_differs") else None}
    return render_template(
        "editor/feature.html", layer=layer, layer_title=label(layer.title, lang), form=form, fields=fields,
        feature=feature, feature_id=feature_id, title=title, error=error, conflict=conflict, versions=versions,
        may_update=feature_id is None or _may(layer, "update"), may_delete=feature_id is not None and _may(
            layer, "delete"), point=layer.geometry == POINT, parts=shown["parts"], map_data=map_data,
        geoman=GEOMAN, **context), status


NEIGHBOURS_WITHIN_DEG = 0.003  # ≈ 200–330 m: the features around the one edited, shown and snapped to
NEIGHBOURS_MAX = 300


def _neighbours(layer: Layer, feature) -> list[dict]:
    """The layer's other features of the hromada near the one edited: drawn grey for orientation, and
    lines and polygons snap to their vertices (a road's end onto the next road)."""
    if feature is None or feature.geometry is None:
        return []
    table = query.table_of(layer)
    geom = table.c[layer.geometry_column]
    here = sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(json.dumps(feature.geometry)), 4326)
    conditions = [table.c[layer.id_column] != feature.id, sa.func.ST_DWithin(geom, here, NEIGHBOURS_WITHIN_DEG)]
    if layer.hromada_column:
        conditions.append(table.c[layer.hromada_column] == g.hromada_id)
    items, _, _ = query.read_features(connection(), layer, conditions=conditions, staff=True,
                                      roles=roles_in(g.hromada_id), page=query.Page(NEIGHBOURS_MAX, 0))
    return [{"title": _title(layer, i["properties"], i["id"]), "geometry": i["geometry"]} for i in items]


def _hint(f: Field) -> str | None:
    low, high = getattr(f, "minimum", None), getattr(f, "maximum", None)
    parts = []
    if low is not None or high is not None:
        parts.append(say(_range_message(low, high)))
    if f.type == "date":
        parts.append(t("fe_date_hint"))
    if f.type in ("number", "money"):
        parts.append(t("fe_number_hint"))
    return "; ".join(parts) or None


def say(message) -> str:
    return message.en if current_lang() == "en" and hasattr(message, "en") else getattr(message, "uk", str(message))


@bp.route("/<name>/new", methods=["GET", "POST"])
@hromada_roles(*EDIT_ROLES, hromada=chosen_hromada(*EDIT_ROLES))
def feature_new(name: str):
    layer = _layer(name)
    _require(layer, "create")
    if request.method == "GET":
        return _render_form(layer, _form(layer, {}))
    form = _form(layer)
    if not form.validate():
        return _render_form(layer, form, status=400)
    values = _typed(layer, form)
    geometry = _geometry(layer, form, required=True)
    if _has_field_errors(form):
        return _render_form(layer, form, status=400)
    try:
        with engine().begin() as conn:
            created = editing.create_feature(conn, layer, _editor(), values, geometry, hromada_id=g.hromada_id,
                                             reason=form.reason.data or None)
    except (Forbidden, NotFound):
        raise
    except HromadaError as exc:  # values or a place refused: beside their fields, nothing written
        _field_errors(form, layer, exc)
        return _render_form(layer, form, status=exc.http_status, error=exc)
    flash(t("fe_created"))
    return redirect(url_for(".feature_page", name=name, feature_id=created.id), 303)


def _deleted_page(layer: Layer, feature_id: int, error: HromadaError | None = None):
    """A deleted feature of a layer that keeps history: its history, to bring it back (``error``: a form
    sent for it after it was deleted, refused)."""
    lang = current_lang()
    versions = _versions(layer, feature_id, lang)
    if not versions:
        raise NotFound(f"У шарі {layer.name} немає об'єкта {feature_id}",
                       f"Layer {layer.name} has no feature {feature_id}")
    last = history.versions(connection(), layer, feature_id)[0]["row"]
    props = {f.name: last.get(f.column_name) for f in layer.fields}
    return render_template("editor/deleted.html", layer=layer, layer_title=label(layer.title, lang),
                           feature_id=feature_id, title=_title(layer, props, feature_id), versions=versions,
                           may_update=_may(layer, "update"), error=error,
                           **_hromada_context()), 412 if error is not None else 200


@bp.route("/<name>/<int:feature_id>", methods=["GET", "POST"])
@hromada_roles(*EDIT_ROLES, hromada=feature_hromada)
def feature_page(name: str, feature_id: int):
    layer = _layer(name)
    conn = connection()
    try:
        feature = editing.get_feature(conn, layer, feature_id)
    except NotFound:
        if not layer.keeps_history:
            raise
        if request.method == "POST":  # deleted meanwhile: nothing written, say so
            return _deleted_page(layer, feature_id, PreconditionFailed(
                "Об'єкт тим часом вилучили: ваші зміни не збережено", "The feature was deleted meanwhile: "
                "your changes are not saved"))
        return _deleted_page(layer, feature_id)
    if request.method == "GET":
        if not _may(layer, "update"):
            _require(layer, "update")
        return _render_form(layer, _form(layer, _form_data(layer, feature)), feature=feature, feature_id=feature_id)
    _require(layer, "update")
    form = _form(layer)
    if not form.validate():
        return _render_form(layer, form, feature=feature, feature_id=feature_id, status=400)
    if not re.fullmatch(r"[0-9]{1,9}", form.version.data or ""):
        raise InvalidInput("У формі немає версії об'єкта: відкрийте його сторінку ще раз",
                           "The form names no version of the feature: open its page again")
    expected = int(form.version.data)
    values = _typed(layer, form)
    geometry = _geometry(layer, form, required=False)
    if _has_field_errors(form):
        return _render_form(layer, form, feature=feature, feature_id=feature_id, status=400)
    if expected != feature.version:
        return _conflict(layer, form, feature, expected, values, geometry)
    try:
        with engine().begin() as write:
            editing.update_feature(
                write, layer, _editor(), feature_id, expected_version=expected, properties=values,
                geometry=None if _same_geometry(geometry, feature.geometry) else geometry,
                reason=form.reason.data or None)
    except PreconditionFailed as exc:  # saved by someone else between the read above and this write
        current = getattr(exc, "current", None)
        if current is None:
            raise
        return _conflict(layer, form, current, expected, values, geometry)
    except (Forbidden, NotFound):
        raise
    except HromadaError as exc:
        _field_errors(form, layer, exc)
        return _render_form(layer, form, feature=feature, feature_id=feature_id, status=exc.http_status, error=exc)
    flash(t("fe_saved"))
    return redirect(url_for(".feature_page", name=name, feature_id=feature_id), 303)


def _base_values(layer: Layer, feature_id: int, version: int) -> dict | None:
    """The feature's values in the version the form was opened on (from the history), or None."""
    if not layer.keeps_history:
        return None
    for v in history.versions(connection(), layer, feature_id):
        if v["version"] == version and v["op"] != "delete":
            row = v["row"]
            return {**{f.name: row.get(f.column_name) for f in layer.fields},
                    "geometry": row.get(layer.geometry_column)}
    return None


def _equal(f: Field, a, b) -> bool:
    try:
        return convert(f, a) == convert(f, b)
    except BadValue:
        return a == b


def _conflict(layer: Layer, form, current, expected: int, mine: dict, geometry: dict | None):
    """Someone saved the feature since this form was opened: nothing is written. The form comes back
    with, per field, what this person changed kept and the rest taken from the current version; the
    fields where theirs and the current differ are listed side by side; the form now names the current
    version, so saving again is a deliberate choice."""
    lang = current_lang()
    base = _base_values(layer, current.id, expected)
    units = _unit_names(layer, [mine, current.properties], lang)
    rows = []
    for f in editable_fields(layer):
        theirs, now = mine.get(f.name), current.properties.get(f.name)
        changed_by_me = base is None or not _equal(f, theirs, base.get(f.name))
        if not changed_by_me:
            form[_key(f)].data = _as_text(f, now)
        elif not _equal(f, theirs, now):
            rows.append({"label": label(f.label, lang), "key": _key(f), "mine": _shown(f, theirs, lang, units),
                         "current": _shown(f, now, lang, units)})
    geometry_differs = False
    if geometry is not None and not _same_geometry(geometry, current.geometry):
        moved_by_me = base is None or not _same_geometry(geometry, base.get("geometry"))
        if moved_by_me:
            geometry_differs = True
        else:
            _set_geometry(layer, form, current.geometry)
    form.version.data = str(current.version)
    error = PreconditionFailed("Об'єкт тим часом змінив хтось інший: ваші зміни не збережено",
                               "Someone else changed the feature meanwhile: your changes are not saved")
    conflict = {"rows": rows, "version": current.version, "geometry_differs": geometry_differs,
                "geometry": current.geometry, "current_point": _point_of(current.geometry)}
    return _render_form(layer, form, feature=current, feature_id=current.id, status=412, error=error,
                        conflict=conflict)


def _set_geometry(layer: Layer, form, geometry: dict | None) -> None:
    point = _point_of(geometry)
    if layer.geometry == POINT and point:
        form.lat.data, form.lon.data = _coord(point[0]), _coord(point[1])
    elif geometry is not None:
        form.geometry.data = json.dumps(geometry)


class DeleteForm(FlaskForm):
    version = HiddenField(validators=[InputRequired(REQUIRED)])
    reason = TextAreaField(validators=[Optional(), Length(max=500)])


@bp.route("/<name>/<int:feature_id>/delete", methods=["GET", "POST"])
@hromada_roles(*EDIT_ROLES, hromada=feature_hromada)
def feature_delete(name: str, feature_id: int):
    layer = _layer(name)
    _require(layer, "delete")
    conn, lang = connection(), current_lang()
    feature = editing.get_feature(conn, layer, feature_id)
    form = DeleteForm()
    error, status = None, 200
    if request.method == "POST":
        if not form.validate():
            raise_for(form)
        if not re.fullmatch(r"[0-9]{1,9}", form.version.data or ""):
            raise InvalidInput("У формі немає версії об'єкта", "The form names no version of the feature")
        try:
            with engine().begin() as write:
                editing.delete_feature(write, layer, _editor(), feature_id, expected_version=int(form.version.data),
                                       reason=form.reason.data or None)
        except PreconditionFailed:
            feature = editing.get_feature(connection(), layer, feature_id)
            error, status = PreconditionFailed(
                "Об'єкт тим часом змінив хтось інший: перегляньте його й вилучіть ще раз",
                "Someone else changed the feature meanwhile: review it and delete again"), 412
        else:
            flash(t("fe_deleted"))
            return redirect(url_for(".feature_list", name=name, hromada=hromada_by_id(conn, g.hromada_id)["katottg"]),
                            303)
    form.version.data = str(feature.version)
    units = _unit_names(layer, [feature.properties], lang)
    facts = [(label(f.label, lang), _shown(f, feature.properties.get(f.name), lang, units))
             for f in layer.fields if feature.properties.get(f.name) not in (None, "")]
    return render_template("editor/delete.html", layer=layer, layer_title=label(layer.title, lang), form=form,
                           feature=feature, feature_id=feature_id, facts=facts, error=error,
                           title=_title(layer, feature.properties, feature_id), **_hromada_context()), status


class RevertForm(FlaskForm):
    version = IntegerField(validators=[InputRequired(REQUIRED), NumberRange(1, history.MAX_ID)])
    reason = StringField(validators=[Optional(), Length(max=500)])


@bp.post("/<name>/<int:feature_id>/revert")
@hromada_roles(*EDIT_ROLES, hromada=feature_hromada)
def feature_revert(name: str, feature_id: int):
    """A version made current again, as a new one (layers.history.revert; a deleted feature comes back)."""
    layer = _layer(name)
    _require(layer, "update")
    if not layer.keeps_history:
        raise NotFound(f"Шар {name!r} не зберігає історії змін", f"Layer {name!r} keeps no history")
    form = RevertForm()
    if not form.validate():
        raise_for(form)
    user = current_user()
    with engine().begin() as conn:
        done = history.revert(conn, layer, feature_id, form.version.data,
                              history.Author(user.id, user.full_name or user.email),
                              roles=roles_in(g.hromada_id), reason=form.reason.data or None)
    flash(t("fe_reverted", version=done["reverted_to"]))
    return redirect(url_for(".feature_page", name=name, feature_id=feature_id) + "#history-title", 303)
