"""The hromada administrator's console: the set-up in the browser (issue #14).

Units, starosta districts, who handles what where, categories and targets, a routing preview and
the audit log, under ``/admin/<katottg>/setup``. Every view needs the ``admin`` role in that
hromada. This module only parses forms and renders pages: every rule and every audit entry lives in
gis.hromada_setup, which the YAML file and the demo loader use as well. A write runs in one
transaction; when the core refuses it (a gis.errors class, in Ukrainian and English) the form comes
back with the reason, with the status the error carries, and nothing has changed.
"""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from gis import hromada_setup as setup
from gis import hromadas
from gis.audit import By, entries
from gis.errors import Conflict, HromadaError, NotFound
from gis.models import UNIT_KINDS, UNIT_NOTIFY_MODES
from gis.routing import ASSET_KINDS, OWNER_CLASSES
from gis.users import display_names
from layers.admin_areas import hromadas_by_ids
from webmap.access import current_user, hromada_id_of_katottg, hromada_roles
from webmap.database import connection, engine
from webmap.forms import (
    AssignmentForm,
    Bilingual,
    ConsoleActionForm,
    DefaultUnitForm,
    DistrictForm,
    LocalCategoryForm,
    PreviewForm,
    UnitForm,
    email_list,
)
from webmap.i18n import current_lang, format_datetime, has, t
from webmap.mapview import base_map, map_parts

bp = Blueprint("console", __name__, url_prefix="/admin/<katottg>/setup")
KYIV = ZoneInfo("Europe/Kyiv")
GEOMAN = "vendor/leaflet-geoman-2.18.3"
SECTIONS = ("overview", "units", "districts", "assignments", "categories", "preview", "audit")
admin_only = hromada_roles("admin", hromada=lambda katottg, **_: hromada_id_of_katottg(katottg))


# --- helpers ---------------------------------------------------------------------------------------

def _by() -> By:
    user = current_user()
    return By(user.email, user.id)


def _write(action, *args, **kwargs):
    """Run one core write for this hromada in its own transaction (all of it, or none of it)."""
    with engine().begin() as conn:
        return action(conn, g.hromada_id, *args, by=_by(), **kwargs)


def pick(row, lang: str | None = None) -> str:
    """The English name when the page is in English and there is one; the Ukrainian one otherwise."""
    lang = lang or current_lang()
    get = row.get if hasattr(row, "get") else lambda key: getattr(row, key, None)
    return (get("name_en") if lang == "en" and get("name_en") else get("name_uk")) or ""


def _label(prefix: str, value: str | None) -> str:
    """The page's words for a rule or an action, or the value itself for one without words yet."""
    return t(f"{prefix}{value}") if has(f"{prefix}{value}") else str(value or "")


def _staff_url(katottg: str) -> str | None:
    """The hromada's staff accounts page (webmap/accounts.py), where staff are invited."""
    return url_for("accounts.staff", katottg=katottg) if "accounts.staff" in current_app.view_functions else None


def _render(template: str, section: str, status: int = 200, **context):
    hromada = hromadas.hromada_by_katottg(connection(), request.view_args["katottg"])
    return render_template(f"console/{template}", hromada=hromada, section=section, sections=SECTIONS,
                           user=current_user(), pick=pick, staff_url=_staff_url(hromada["katottg"]),
                           rule_label=lambda r: _label("con_rule_", r), action_label=lambda a: _label("con_action_", a),
                           field_label=lambda f: _label("con_field_", f), **context), status


def _saved(key: str = "con_saved"):
    flash(key, "saved")


def _delete(action, key, *, back: str, refused_page):
    """A delete button's POST: the core's delete in its own transaction, then back to the list; a
    refusal (it is still in use) shows the list again with the reason."""
    if ConsoleActionForm().validate_on_submit():
        try:
            _write(action, key)
        except HromadaError as exc:
            return refused_page(exc)
        _saved("con_deleted")
    return redirect(back)


def _refused(form, exc: HromadaError) -> None:
    """Put the core's reason next to the field it names (``details['field']``), if the form has it;
    the template shows it in the error summary in any case."""
    field = (exc.details or {}).get("field")
    if form is not None and field and hasattr(form, field):
        getattr(form, field).errors = [*getattr(form, field).errors, Bilingual(exc.uk, exc.en)]


def _map(katottg: str, height: str = "420px") -> tuple[dict, dict]:
    """The folium shell of a map fitted to the hromada, and its boundary (GeoJSON) for console.js."""
    outline = setup.hromada_outline(connection(), katottg)
    fmap = base_map(current_lang(), height=height,
                    bounds=[[outline["miny"], outline["minx"]], [outline["maxy"], outline["maxx"]]])
    return map_parts(fmap), outline["shape"]


def _code_or_404(rows: list[dict], code: str, what_uk: str, what_en: str) -> dict:
    found = next((r for r in rows if r["code"] == code), None)
    if found is None:
        raise NotFound(f"{what_uk} {code} не знайдено", f"{what_en} {code} not found")
    return found


def _ids_or_names(values: list[str]) -> list:
    """Checkbox values are village ids; anything else goes to the core as a name, which it checks."""
    return [int(v) if v.isdigit() else v for v in values if v.strip()]


# --- the staff bar's link --------------------------------------------------------------------------

@bp.app_context_processor
def _console_link():
    def console_hromadas() -> list[dict]:
        """The hromadas whose administrator the signed-in user is (for the link in the staff bar)."""
        user = current_user()
        mine = sorted(h for h, roles in (user.grants.items() if user else ()) if "admin" in roles)
        return hromadas_by_ids(connection(), mine) if mine else []
    return {"console_hromadas": console_hromadas}


# --- overview --------------------------------------------------------------------------------------

@bp.get("/")
@admin_only
def overview(katottg: str):
    conn = connection()
    warnings = setup.warnings(conn, g.hromada_id)
    categories = setup.list_categories(conn, g.hromada_id)
    settlements = setup.list_settlements(conn, g.hromada_id)
    counts = {
        "units": len(setup.list_units(conn, g.hromada_id)),
        "districts": len(setup.list_districts(conn, g.hromada_id)),
        "assignments": len(setup.list_assignments(conn, g.hromada_id)),
        "categories_on": sum(1 for c in categories if c["enabled"]),
        "categories": len(categories),
        "settlements": len(settlements),
        "outside_districts": sum(1 for s in settlements if not s.get("district_code")),
    }
    shapes = [{"geometry": w["where"], "label": w["en"] if current_lang() == "en" else w["uk"]}
              for w in warnings if w.get("where")]
    parts, boundary = _map(katottg, "320px") if shapes else (None, None)
    return _render("overview.html", "overview", warnings=warnings, counts=counts,
                   default_unit=setup.default_unit(conn, g.hromada_id), parts=parts,
                   map_data={"mode": "show", "boundary": boundary, "shapes": shapes})


def warning_link(katottg: str, warning: dict) -> str | None:
    """Where to fix a warning: the assignment form for its category, else its section; None when
    the fix is not the administrator's (the operator switches a hromada on)."""
    section = warning.get("section")
    if warning.get("category") and section in (None, "assignments"):
        return url_for("console.assignments", katottg=katottg, category=warning["category"]) + "#add"
    if section in SECTIONS and section != "overview":
        return url_for(f"console.{section}", katottg=katottg)
    if section == "staff":
        return _staff_url(katottg)
    return None


bp.add_app_template_global(warning_link, "console_warning_link")


# --- units -----------------------------------------------------------------------------------------

@bp.get("/units")
@admin_only
def units(katottg: str, error: HromadaError | None = None, status: int = 200):
    return _render("units.html", "units", status, units=setup.list_units(connection(), g.hromada_id),
                   kinds=UNIT_KINDS, form=ConsoleActionForm(), error=error)


@bp.route("/units/new", methods=["GET", "POST"])
@bp.route("/units/<unit_code>/edit", methods=["GET", "POST"])
@admin_only
def unit_edit(katottg: str, unit_code: str | None = None):
    existing = setup.list_units(connection(), g.hromada_id)
    current = _code_or_404(existing, unit_code, "Підрозділ", "Unit") if unit_code else None
    if request.method == "GET" and current is not None:
        form = UnitForm(data={**current, "emails": "\n".join(current["emails"] or []),
                              "has_accounts": "yes" if current["has_accounts"] else "no"})
    else:
        form = UnitForm()
    if current is not None:  # the code names the unit: it is not renamed here
        form.code.data, form.code.raw_data = current["code"], [current["code"]]
    error = None
    if form.validate_on_submit():
        data = {"code": form.code.data, "name_uk": form.name_uk.data.strip(),
                "name_en": (form.name_en.data or "").strip() or None, "kind": form.kind.data,
                "emails": email_list(form.emails.data), "phone": (form.phone.data or "").strip() or None,
                "has_accounts": form.has_accounts.data == "yes", "notify_mode": form.notify_mode.data}
        try:
            if current is None and any(u["code"] == data["code"] for u in existing):
                raise Conflict(f"Підрозділ з кодом {data['code']} уже є",
                               f"A unit with code {data['code']} exists",
                               field="code")
            _write(setup.save_unit, data)
        except HromadaError as exc:
            _refused(form, exc)
            error = exc
        else:
            _saved()
            return redirect(url_for(".units", katottg=katottg))
    status = error.http_status if error else 400 if form.errors else 200
    return _render("unit_form.html", "units", status, form=form, current=current, kinds=UNIT_KINDS,
                   notify_modes=UNIT_NOTIFY_MODES, error=error)


@bp.post("/units/<unit_code>/delete")
@admin_only
def unit_delete(katottg: str, unit_code: str):
    return _delete(setup.delete_unit, unit_code, back=url_for(".units", katottg=katottg),
                   refused_page=lambda exc: units(katottg=katottg, error=exc, status=exc.http_status))


# --- starosta districts ----------------------------------------------------------------------------

@bp.get("/districts")
@admin_only
def districts(katottg: str, error: HromadaError | None = None, status: int = 200):
    conn = connection()
    settlements = setup.list_settlements(conn, g.hromada_id)
    return _render("districts.html", "districts", status, districts=setup.list_districts(conn, g.hromada_id),
                   outside=[s for s in settlements if not s.get("district_code")], form=ConsoleActionForm(),
                   error=error)


@bp.route("/districts/new", methods=["GET", "POST"])
@bp.route("/districts/<district_code>/edit", methods=["GET", "POST"])
@admin_only
def district_edit(katottg: str, district_code: str | None = None):
    conn = connection()
    existing = setup.list_districts(conn, g.hromada_id)
    settlements = setup.list_settlements(conn, g.hromada_id)
    current = _code_or_404(existing, district_code, "Округ", "District") if district_code else None
    if request.method == "GET" and current is not None:
        form = DistrictForm(data={**current, "settlements": [
            str(s["id"]) for s in settlements if s.get("district_code") == current["code"]]})
    else:
        form = DistrictForm()
    if current is not None:
        form.code.data, form.code.raw_data = current["code"], [current["code"]]
    error = None
    if form.validate_on_submit():
        data = {"code": form.code.data, "name_uk": form.name_uk.data.strip(),
                "name_en": (form.name_en.data or "").strip() or None,
                "settlements": _ids_or_names(form.settlements.data or [])}
        try:
            if current is None and any(d["code"] == data["code"] for d in existing):
                raise Conflict(f"Округ з кодом {data['code']} уже є",
                               f"A district with code {data['code']} exists",
                               field="code")
            _write(setup.save_district, data)
        except HromadaError as exc:
            _refused(form, exc)
            if not (exc.details or {}).get("field"):
                form.settlements.errors = [*form.settlements.errors, Bilingual(exc.uk, exc.en)]
            error = exc
        else:
            _saved()
            return redirect(url_for(".districts", katottg=katottg))
    status = error.http_status if error else 400 if form.errors else 200
    chosen = set(form.settlements.data or [])
    return _render("district_form.html", "districts", status, form=form, current=current, settlements=settlements,
                   chosen=chosen, error=error, district_names={d["code"]: pick(d) for d in existing})


@bp.post("/districts/<district_code>/delete")
@admin_only
def district_delete(katottg: str, district_code: str):
    return _delete(setup.delete_district, district_code, back=url_for(".districts", katottg=katottg),
                   refused_page=lambda exc: districts(katottg=katottg, error=exc, status=exc.http_status))


# --- who handles what, where -----------------------------------------------------------------------

def _assignment_choices(form: AssignmentForm, conn, lang: str) -> dict:
    units_ = setup.list_units(conn, g.hromada_id)
    categories = setup.list_categories(conn, g.hromada_id)
    districts_ = setup.list_districts(conn, g.hromada_id)
    settlements = setup.list_settlements(conn, g.hromada_id)
    form.category.choices = [("", "—")] + [(c["code"], pick(c, lang)) for c in categories]
    form.unit.choices = [("", "—")] + [(u["code"], pick(u, lang)) for u in units_]
    form.district.choices = [("", "—")] + [(d["code"], pick(d, lang)) for d in districts_]
    form.villages.choices = [(str(s["id"]), pick(s, lang)) for s in settlements]
    return {"units": units_, "categories": categories, "districts": districts_, "settlements": settlements}


def _assignments_page(katottg: str, *, add: AssignmentForm | None = None, default: DefaultUnitForm | None = None,
                      owners_errors: dict | None = None, owners_posted: dict | None = None,
                      error: HromadaError | None = None, error_form: str | None = None, status: int = 200):
    conn, lang = connection(), current_lang()
    add = add or AssignmentForm(formdata=None, category=request.args.get("category", ""))
    lists = _assignment_choices(add, conn, lang)
    current_default = setup.default_unit(conn, g.hromada_id)
    if default is None:
        default = DefaultUnitForm(formdata=None, unit=(current_default or {}).get("code", ""))
    default.unit.choices = [("", t("con_no_default"))] + [(u["code"], pick(u, lang)) for u in lists["units"]]
    assignments = setup.list_assignments(conn, g.hromada_id)
    grouped: dict[str, dict] = {}
    for a in assignments:
        group = grouped.setdefault(a["category_code"], {"code": a["category_code"], "name": _category_name(a, lang),
                                                        "items": []})
        group["items"].append(a)
    owners = {(o["asset_kind"], o["owner_class"]): o.get("unit_code")
              for o in setup.list_asset_owners(conn, g.hromada_id)}
    if owners_posted:
        owners = {**owners, **owners_posted}
    parts, boundary = _map(katottg)
    drawn = None
    if (add.area.data or "").strip():
        try:
            drawn = json.loads(add.area.data)
        except ValueError:
            drawn = None
    return _render("assignments.html", "assignments", status, add=add, default=default, groups=list(grouped.values()),
                   units=lists["units"], owners=owners, asset_kinds=ASSET_KINDS, owner_classes=OWNER_CLASSES,
                   asset_kind_label=lambda k: _label("con_asset_kind_", k) if has(f"con_asset_kind_{k}")
                   else ASSET_KINDS[k][current_lang()].capitalize(),
                   owners_errors=owners_errors or {}, action=ConsoleActionForm(), error=error, error_form=error_form,
                   parts=parts, geoman=GEOMAN, map_data={"mode": "draw", "boundary": boundary, "drawn": drawn})


def _category_name(assignment: dict, lang: str) -> str:
    if lang == "en" and assignment.get("category_name_en"):
        return assignment["category_name_en"]
    return assignment.get("category_name_uk") or assignment["category_code"]


@bp.get("/assignments")
@admin_only
def assignments(katottg: str):
    return _assignments_page(katottg)


@bp.post("/assignments")
@admin_only
def assignment_add(katottg: str):
    form = AssignmentForm()
    _assignment_choices(form, connection(), current_lang())
    if not form.validate_on_submit():
        return _assignments_page(katottg, add=form, error_form="add", status=400)
    data = {"category": form.category.data, "unit": form.unit.data, "scope": form.scope.data}
    if form.scope.data == "district":
        data["district"] = form.district.data
    elif form.scope.data == "villages":
        by_id = {str(s["id"]): s["name_uk"] for s in setup.list_settlements(connection(), g.hromada_id)}
        data["villages"] = [by_id.get(v, v) for v in form.villages.data or []]
    elif form.scope.data == "area":
        data["area"] = json.loads(form.area.data)
    try:
        _write(setup.add_assignment, data)
    except HromadaError as exc:
        _refused(form, exc)
        if not (exc.details or {}).get("field") and form.scope.data in ("district", "villages", "area"):
            target = getattr(form, form.scope.data)  # the reason goes next to the place it is about
            target.errors = [*target.errors, Bilingual(exc.uk, exc.en)]
        return _assignments_page(katottg, add=form, error=exc, error_form="add", status=exc.http_status)
    _saved("con_added")
    return redirect(url_for(".assignments", katottg=katottg))


@bp.post("/assignments/<int:assignment_id>/delete")
@admin_only
def assignment_delete(katottg: str, assignment_id: int):
    return _delete(setup.delete_assignment, assignment_id, back=url_for(".assignments", katottg=katottg),
                   refused_page=lambda exc: _assignments_page(katottg, error=exc, error_form="list",
                                                              status=exc.http_status))


@bp.post("/default-unit")
@admin_only
def default_unit(katottg: str):
    form = DefaultUnitForm()
    form.unit.choices = []
    if form.validate_on_submit():
        try:
            _write(setup.set_default_unit, form.unit.data or None)
        except HromadaError as exc:
            _refused(form, exc)
            if not form.unit.errors:
                form.unit.errors = [Bilingual(exc.uk, exc.en)]
            return _assignments_page(katottg, default=form, error=exc, error_form="default", status=exc.http_status)
        _saved()
        return redirect(url_for(".assignments", katottg=katottg) + "#default")
    return _assignments_page(katottg, default=form, error_form="default", status=400)


@bp.post("/asset-owners")
@admin_only
def asset_owners(katottg: str):
    form = ConsoleActionForm()
    if not form.validate_on_submit():
        return _assignments_page(katottg, error_form="owners", status=400)
    conn = connection()
    codes = {u["code"] for u in setup.list_units(conn, g.hromada_id)}
    current = {(o["asset_kind"], o["owner_class"]): o.get("unit_code")
               for o in setup.list_asset_owners(conn, g.hromada_id)}
    posted, errors = {}, {}
    for kind in ASSET_KINDS:
        for owner_class in OWNER_CLASSES:
            value = request.form.get(f"owner-{kind}-{owner_class}", "").strip() or None
            posted[(kind, owner_class)] = value
            if value is not None and value not in codes:
                errors[(kind, owner_class)] = Bilingual(f"немає підрозділу {value}",
                                                        f"there is no unit {value}")
    if errors:
        return _assignments_page(katottg, owners_errors=errors, owners_posted=posted, error_form="owners", status=400)
    changed = {key: value for key, value in posted.items() if current.get(key) != value}
    try:
        with engine().begin() as write:  # all the changed rows, or none
            for (kind, owner_class), value in changed.items():
                setup.set_asset_owner(write, g.hromada_id, kind, owner_class, value, by=_by())
    except HromadaError as exc:
        return _assignments_page(katottg, owners_posted=posted, error=exc, error_form="owners",
                                 status=exc.http_status)
    _saved()
    return redirect(url_for(".assignments", katottg=katottg) + "#owners")


# --- categories ------------------------------------------------------------------------------------

@bp.get("/categories")
@admin_only
def categories(katottg: str):
    return _categories_page()


def _categories_page(*, errors: dict | None = None, posted: dict | None = None, local: LocalCategoryForm | None = None,
                     error: HromadaError | None = None, error_form: str | None = None, status: int = 200):
    return _render("categories.html", "categories", status,
                   categories=setup.list_categories(connection(), g.hromada_id), errors=errors or {},
                   days_off=setup.list_days_off(connection(), g.hromada_id),
                   posted=posted or {}, form=ConsoleActionForm(), local=local or LocalCategoryForm(formdata=None),
                   error=error, error_form=error_form)


@bp.post("/categories")
@admin_only
def categories_save(katottg: str):
    form = ConsoleActionForm()
    if not form.validate_on_submit():
        return _categories_page(error_form="switches", status=400)
    rows = setup.list_categories(connection(), g.hromada_id)
    posted, errors, changes = {}, {}, []
    for c in rows:
        enabled = request.form.get(f"enabled-{c['code']}") == "on"
        premoderate = request.form.get(f"premoderate-{c['code']}") == "on"
        raw = request.form.get(f"days-{c['code']}", "").strip()
        posted[c["code"]] = {"enabled": enabled, "days": raw, "premoderate": premoderate}
        days = None
        if raw:
            if not raw.isdigit() or not 1 <= int(raw) <= 365:
                errors[c["code"]] = Bilingual("від 1 до 365 днів (ціле число)",
                                              "from 1 to 365 days (a whole number)")
                continue
            days = int(raw)
        if enabled != c["enabled"] or days != c.get("own_target_days") or premoderate != c["premoderate"]:
            changes.append((c["code"], enabled, days, premoderate))  # only what changed is written
    if errors:
        return _categories_page(errors=errors, posted=posted, error_form="switches", status=400)
    try:
        with engine().begin() as write:  # every change of the table, or none
            for code, enabled, days, premoderate in changes:
                setup.set_category(write, g.hromada_id, code, enabled=enabled, target_days=days, by=_by(),
                                   premoderate=premoderate)
    except HromadaError as exc:
        return _categories_page(posted=posted, error=exc, error_form="switches", status=exc.http_status)
    _saved()
    return redirect(url_for(".categories", katottg=katottg))


@bp.post("/days-off")
@admin_only
def day_off_save(katottg: str):
    """Add a day the hromada does not work (``day``, ``note``), or remove one (``remove``)."""
    form = ConsoleActionForm()
    if not form.validate_on_submit():
        return _categories_page(error_form="days-off", status=400)
    try:
        if request.form.get("remove"):
            _write(setup.remove_day_off, request.form["remove"])
        else:
            _write(setup.add_day_off, request.form.get("day", ""), request.form.get("note"))
    except HromadaError as exc:
        return _categories_page(error=exc, error_form="days-off", status=exc.http_status)
    _saved()
    return redirect(url_for(".categories", katottg=katottg) + "#days-off")


@bp.post("/categories/local")
@admin_only
def category_add(katottg: str):
    form = LocalCategoryForm()
    if not form.validate_on_submit():
        return _categories_page(local=form, error_form="local", status=400)
    try:
        _write(setup.add_local_category, {"code": form.code.data, "name_uk": form.name_uk.data.strip(),
                                          "name_en": form.name_en.data.strip(), "target_days": form.target_days.data})
    except HromadaError as exc:
        _refused(form, exc)
        return _categories_page(local=form, error=exc, error_form="local", status=exc.http_status)
    _saved("con_added")
    return redirect(url_for(".categories", katottg=katottg) + "#local")


@bp.post("/categories/local/<category_code>/delete")
@admin_only
def category_delete(katottg: str, category_code: str):
    # Refused while reports have it: the reason says to switch it off instead.
    return _delete(setup.delete_local_category, category_code, back=url_for(".categories", katottg=katottg) + "#own",
                   refused_page=lambda exc: _categories_page(error=exc, error_form="local-list",
                                                             status=exc.http_status))


# --- routing preview -------------------------------------------------------------------------------

@bp.get("/preview")
@admin_only
def preview(katottg: str):
    """Where a report of a category at a point would go, and why: the same code as real routing.
    A GET form (it changes nothing), so it works without JavaScript; the map only fills it in."""
    conn, lang = connection(), current_lang()
    asked = any(k in request.args for k in ("lat", "lon", "category"))
    form = PreviewForm(formdata=request.args if asked else None)
    form.category.choices = [("", "—")] + [(c["code"], pick(c, lang))
                                           for c in setup.list_categories(conn, g.hromada_id)]
    result, error, status = None, None, 200
    if asked:
        if form.validate():
            try:
                result = setup.preview_route(conn, g.hromada_id, form.lon.data, form.lat.data, form.category.data)
            except HromadaError as exc:
                error, status = exc, exc.http_status
        else:
            status = 400
    parts, boundary = _map(katottg)
    point = [form.lat.data, form.lon.data] if asked and not form.lat.errors and not form.lon.errors \
        and form.lat.data is not None and form.lon.data is not None else None
    return _render("preview.html", "preview", status, form=form, result=result, error=error, parts=parts,
                   map_data={"mode": "point", "boundary": boundary, "point": point})


# --- audit log -------------------------------------------------------------------------------------

@bp.get("/audit")
@admin_only
def audit(katottg: str):
    conn = connection()
    rows = entries(conn, g.hromada_id)
    people = display_names(conn, {r["user_id"] for r in rows if r["user_id"] is not None})
    village_ids = {v for r in rows for v in ((r["detail"] or {}).get("villages") or []) if isinstance(v, int)}
    villages = setup.settlement_names_by_id(conn, village_ids)
    lines = [{"when": format_datetime(r["created_at"]), "at": r["created_at"].astimezone(KYIV).isoformat(),
              "who": people.get(r["user_id"]) or r["actor"], "action": r["action"], "object": r["object"],
              "detail": _readable(r["detail"], villages)} for r in rows]
    return _render("audit.html", "audit", lines=lines)


def _readable(detail, villages: dict[int, str]) -> list[tuple[str, str]]:
    """A detail as "key: value" pairs a person can read: a change [old, new] as "old → new", lists
    joined, villages by name, nested objects as JSON."""
    def show(value) -> str:
        if value is None or value == [] or value == "":
            return "—"
        if isinstance(value, bool):
            return t("yes") if value else t("no")
        if isinstance(value, list):
            return ", ".join(show(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)[:300]
        return str(value)

    out = []
    for key, value in (detail or {}).items():
        if key == "villages" and isinstance(value, list):
            value = [villages.get(v, v) for v in value]
        if isinstance(value, list) and len(value) == 2 and key != "villages" and (
                key != "emails" or all(isinstance(v, (list, type(None))) for v in value)):
            out.append((str(key), f"{show(value[0])} → {show(value[1])}"))  # a change: before → after
        else:
            out.append((str(key), show(value)))
    return out


__all__ = ["bp"]
