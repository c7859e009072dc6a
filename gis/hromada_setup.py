"""A hromada's set-up as data (issue #14): units, starosta districts, who handles what where,
categories and targets, asset owners, the default unit.

Framework-free: the console pages (webmap/console.py), the YAML file (gis/setup_file.py) and the
demo loader all write through these functions, so every change is validated the same way and
recorded in the audit log in the same transaction. A write that changes nothing writes nothing
(no row, no audit entry): applying the same set-up twice is a no-op.

Assignment areas for starosta districts and chosen villages are *derived*: every settlement of
the hromada has a cell (its own boundary, plus the part of its centre's Voronoi cell that lies in
no village's boundary, all clipped to the hromada), and the assignment's ``area`` is the union of
its villages' cells. Routing only ever tests ``unit_category.area``.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPoint, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis.audit import By, record
from gis.errors import Conflict, InvalidGeometry, InvalidInput, NotFound
from gis.geometry import to_multipolygon
from gis.models import (
    ASSIGNMENT_SCOPES,
    UNIT_KINDS,
    UNIT_NOTIFY_MODES,
    asset_owner,
    category,
    district_settlement,
    hromada,
    hromada_category,
    hromada_day_off,
    hromada_setup,
    settlement,
    starosta_district,
    unit,
    unit_category,
)

CODE_RE = re.compile(r"^[a-z0-9_]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")
MAX_CODE, MAX_NAME = 60, 300
# Drawn areas are compared within this distance (degrees, ≈ 1 cm): a file written with 7 decimals
# names the same area as the one stored.
SAME_AREA_DEG = 1e-6
SCOPE_WORDS = {
    "hromada": ("уся громада", "the whole hromada"),
    "district": ("старостинський округ", "starosta district"),
    "villages": ("населені пункти", "villages"),
    "area": ("ділянка на мапі", "an area on the map"),
}


# --- small helpers -----------------------------------------------------------------------------

def _bad(uk: str, en: str, field: str | None = None) -> InvalidInput:
    return InvalidInput(uk, en, **({"field": field} if field else {}))


def check_code(value, what_uk: str = "Код", what_en: str = "Code") -> str:
    code = (value or "").strip() if isinstance(value, str) else value
    if not isinstance(code, str) or not code:
        raise _bad(f"{what_uk}: потрібен код", f"{what_en}: a code is required", "code")
    if len(code) > MAX_CODE or not CODE_RE.match(code):
        raise _bad(f"{what_uk} {code!r}: лише малі латинські літери, цифри та _ (до {MAX_CODE} знаків)",
                   f"{what_en} {code!r}: only lower-case Latin letters, digits and _ (up to {MAX_CODE})", "code")
    return code


def _name(value, field: str, required: bool) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _bad(f"Назва ({field}) має бути текстом", f"The name ({field}) must be text", field)
    text = (value or "").strip()
    if not text:
        if required:
            raise _bad("Потрібна назва українською", "A Ukrainian name is required", field)
        return None
    if len(text) > MAX_NAME:
        raise _bad(f"Назва задовга: до {MAX_NAME} знаків", f"The name is too long: {MAX_NAME} characters at most",
                   field)
    return text


check_name = _name


def check_emails(values) -> list[str]:
    """A list of valid addresses (order kept, duplicates dropped); a single string may hold several."""
    from email_validator import EmailNotValidError, validate_email

    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,;]+", values) if v]
    if not isinstance(values, (list, tuple)):
        raise _bad("Адреси ел. пошти: очікується список", "E-mail addresses: a list is expected", "emails")
    out: list[str] = []
    for value in values:
        address = value.strip() if isinstance(value, str) else value
        try:
            if not isinstance(address, str):
                raise EmailNotValidError("not text")
            validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            raise _bad(f"Неправильна адреса ел. пошти: {address!r}", f"Not a valid e-mail address: {address!r}",
                       "emails") from None
        if address.lower() not in {a.lower() for a in out}:
            out.append(address)
    return out


def check_target_days(value, field: str = "target_days") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit() \
            or not 1 <= int(value) <= 365:
        raise _bad(f"Строк має бути цілим числом днів від 1 до 365, не {value!r}",
                   f"The target time must be a whole number of days from 1 to 365, not {value!r}", field)
    return int(value)


def _bool(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise _bad(f"{field}: очікується так/ні (true/false)", f"{field}: true or false expected", field)


def _require_hromada(conn: sa.Connection, hromada_id: int) -> sa.RowMapping:
    row = conn.execute(sa.select(hromada.c.id, hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en)
                       .where(hromada.c.id == hromada_id)).mappings().first()
    if row is None:
        raise NotFound(f"Громаду {hromada_id} не знайдено", f"Hromada {hromada_id} not found")
    return row


def _changes(old: dict, new: dict) -> dict:
    """{field: [old, new]} for the fields that differ (JSON-friendly, for the audit log)."""
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


# --- units -------------------------------------------------------------------------------------

def list_units(conn: sa.Connection, hromada_id: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT u.id, u.code, u.name_uk, u.name_en, u.kind, u.emails, u.phone, u.has_accounts, u.notify_mode,
               (SELECT count(*) FROM staff_membership m JOIN app_user a ON a.id = m.user_id
                WHERE m.unit_id = u.id AND a.is_active) AS staff_count
        FROM unit u WHERE u.hromada_id = :h ORDER BY u.name_uk, u.code"""), {"h": hromada_id}).mappings()
    return [{**dict(r), "emails": list(r["emails"] or [])} for r in rows]


def _unit(conn: sa.Connection, hromada_id: int, code: str, field: str = "unit") -> sa.RowMapping:
    row = conn.execute(sa.select(unit).where(unit.c.hromada_id == hromada_id, unit.c.code == code)) \
        .mappings().first()
    if row is None:
        raise _bad(f"У громаді немає підрозділу з кодом {code!r}", f"The hromada has no unit with code {code!r}",
                   field)
    return row


UNIT_DEFAULTS = {"name_uk": None, "name_en": None, "kind": "department", "emails": [], "phone": None,
                 "has_accounts": True, "notify_mode": "each"}


def check_unit(data: dict, base: dict | None = None, errors: list | None = None) -> tuple[str, dict]:
    """(code, the unit's fields) from ``data``, keys left out taken from ``base`` (the unit as it is)
    or the defaults. InvalidInput names the field at fault; with an ``errors`` list, every field's
    problem is appended there instead (the YAML file lists them all) and None stands for a bad value."""
    base = {**UNIT_DEFAULTS, **(base or {})}

    def checked(fn, *args):
        try:
            return fn(*args)
        except InvalidInput as exc:
            if errors is None:
                raise
            errors.append(exc)
            return None

    def kind(value):
        value = value or "department"
        if value not in UNIT_KINDS:
            raise _bad(f"Невідомий вид підрозділу {value!r}; можливі: {', '.join(UNIT_KINDS)}",
                       f"Unknown unit kind {value!r}; known: {', '.join(UNIT_KINDS)}", "kind")
        return value

    def phone(value):
        value = value.strip() if isinstance(value, str) else value
        if value and (not isinstance(value, str) or not PHONE_RE.match(value)):
            raise _bad(f"Неправильний номер телефону {value!r}", f"Not a valid phone number {value!r}", "phone")
        return value or None

    def notify(value):
        value = value or "each"
        if value not in UNIT_NOTIFY_MODES:
            raise _bad(f"Невідомий спосіб сповіщення {value!r}; можливі: each (кожне звернення), "
                       "digest (щоденний підсумок)",
                       f"Unknown notify mode {value!r}; known: each, digest", "notify_mode")
        return value

    code = checked(check_code, data.get("code"), "Код підрозділу", "Unit code")
    new = {
        "name_uk": checked(_name, data.get("name_uk", base["name_uk"]), "name_uk", True),
        "name_en": checked(_name, data.get("name_en", base["name_en"]), "name_en", False),
        "kind": checked(kind, data.get("kind", base["kind"])),
        "emails": checked(check_emails, data.get("emails", list(base["emails"] or []))),
        "phone": checked(phone, data.get("phone", base["phone"])),
        "has_accounts": checked(_bool, data.get("has_accounts", base["has_accounts"]), "has_accounts"),
        "notify_mode": checked(notify, data.get("notify_mode", base["notify_mode"])),
    }
    if new["has_accounts"] is False and new["emails"] == []:
        checked(_raise, _bad("Підрозділ без облікових записів отримує звернення лише ел. поштою: вкажіть хоча б "
                             "одну адресу", "A unit without accounts gets reports by e-mail only: give at least "
                             "one address", "emails"))
    return code, new


def _raise(exc: Exception):
    raise exc


def save_unit(conn: sa.Connection, hromada_id: int, data: dict, by: By) -> int:
    """Insert or update the unit ``data["code"]``; its id. Keys left out keep their current values
    (or the defaults for a new unit: department, has_accounts, notify each).

    InvalidInput: a bad code, no Ukrainian name, an unknown kind or notify mode, a bad e-mail, an
    e-mail-only unit (has_accounts False) without an address. Conflict: making a unit with staff
    accounts e-mail-only."""
    _require_hromada(conn, hromada_id)
    code = check_code(data.get("code"), "Код підрозділу", "Unit code")
    current = conn.execute(sa.select(unit).where(unit.c.hromada_id == hromada_id, unit.c.code == code)) \
        .mappings().first()
    code, new = check_unit(data, dict(current) if current else None)
    if current is None:
        unit_id = conn.execute(unit.insert().values(hromada_id=hromada_id, code=code, **new)
                               .returning(unit.c.id)).scalar_one()
        record(conn, by, "unit.create", hromada_id=hromada_id, object=code, detail=new)
        return unit_id
    old = {**dict(current), "emails": list(current["emails"] or [])}
    diff = _changes(old, new)
    if not diff:
        return current["id"]
    if not new["has_accounts"] and current["has_accounts"]:
        staff = conn.execute(sa.text("""SELECT count(*) FROM staff_membership m JOIN app_user a ON a.id = m.user_id
                                        WHERE m.unit_id = :u AND a.is_active"""), {"u": current["id"]}).scalar()
        if staff:
            raise Conflict(f"Підрозділ {code} має працівників з обліковими записами ({staff}): спершу відкріпіть їх",
                           f"Unit {code} has staff accounts ({staff}): detach them first", field="has_accounts")
    conn.execute(unit.update().where(unit.c.id == current["id"]).values(**{k: new[k] for k in diff}))
    record(conn, by, "unit.update", hromada_id=hromada_id, object=code, detail=diff)
    return current["id"]


def delete_unit(conn: sa.Connection, hromada_id: int, code: str, by: By) -> None:
    """Delete the unit with its assignments and asset ownerships. Conflict when reports (or layer
    features such as lamps) refer to it: they must keep their unit."""
    row = _unit(conn, hromada_id, code, "code")
    reports = conn.execute(sa.text("SELECT count(*) FROM report WHERE unit_id = :u"), {"u": row["id"]}).scalar()
    if reports:
        raise Conflict(f"Підрозділ {code} не можна вилучити: на нього записано звернень — {reports}",
                       f"Unit {code} cannot be deleted: {reports} report(s) are assigned to it", unit=code)
    try:
        with conn.begin_nested():  # other tables (lamps, property …) may still point at it
            conn.execute(unit.delete().where(unit.c.id == row["id"]))
    except sa.exc.IntegrityError:
        raise Conflict(f"Підрозділ {code} не можна вилучити: на нього посилаються інші дані (об'єкти шарів)",
                       f"Unit {code} cannot be deleted: other data (layer features) refer to it", unit=code) from None
    record(conn, by, "unit.delete", hromada_id=hromada_id, object=code,
           detail={"name_uk": row["name_uk"], "emails": list(row["emails"] or [])})


# --- settlements and starosta districts --------------------------------------------------------

def list_settlements(conn: sa.Connection, hromada_id: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT s.id, s.name_uk, s.name_en, d.code AS district_code
        FROM settlement s LEFT JOIN district_settlement ds ON ds.settlement_id = s.id
        LEFT JOIN starosta_district d ON d.id = ds.district_id
        WHERE s.hromada_id = :h ORDER BY s.name_uk, s.id"""), {"h": hromada_id}).mappings()
    return [dict(r) for r in rows]


def settlement_names_by_id(conn: sa.Connection, ids) -> dict[int, str]:
    """The Ukrainian names of the settlements with these ids (for the audit log's villages)."""
    ids = sorted(ids)
    if not ids:
        return {}
    return dict(conn.execute(sa.text("SELECT id, name_uk FROM settlement WHERE id = ANY(:ids)"), {"ids": ids}).all())


def list_districts(conn: sa.Connection, hromada_id: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT d.id, d.code, d.name_uk, d.name_en,
               COALESCE(array_agg(s.name_uk ORDER BY s.name_uk) FILTER (WHERE s.id IS NOT NULL), '{}') AS settlements
        FROM starosta_district d LEFT JOIN district_settlement ds ON ds.district_id = d.id
        LEFT JOIN settlement s ON s.id = ds.settlement_id
        WHERE d.hromada_id = :h GROUP BY d.id ORDER BY d.name_uk, d.code"""), {"h": hromada_id}).mappings()
    return [{**dict(r), "settlements": list(r["settlements"])} for r in rows]


def resolve_settlements(conn: sa.Connection, hromada_id: int, values, field: str = "settlements") -> list[int]:
    """Settlement ids from names (name_uk, or name_en; case does not matter) or ids of the hromada's
    settlements, sorted. InvalidInput names every unknown or ambiguous one."""
    if values is None:
        values = []
    if isinstance(values, (str, int)):
        values = [values]
    rows = conn.execute(sa.select(settlement.c.id, settlement.c.name_uk, settlement.c.name_en)
                        .where(settlement.c.hromada_id == hromada_id)).all()
    ids = {r.id for r in rows}
    by_name: dict[str, set[int]] = {}
    for r in rows:
        for name in {r.name_uk, r.name_en} - {None}:
            by_name.setdefault(name.strip().casefold(), set()).add(r.id)
    out, unknown, ambiguous = set(), [], []
    for value in values:
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            if int(value) in ids:
                out.add(int(value))
            else:
                unknown.append(str(value))
            continue
        found = by_name.get(str(value).strip().casefold(), set())
        if len(found) == 1:
            out |= found
        elif found:
            ambiguous.append(str(value))
        else:
            unknown.append(str(value))
    if unknown:
        raise _bad(f"У громаді немає населених пунктів: {', '.join(unknown)}",
                   f"No such villages in the hromada: {', '.join(unknown)}", field)
    if ambiguous:
        raise _bad(f"Кілька населених пунктів мають назву {', '.join(ambiguous)}: оберіть за номером",
                   f"Several villages are named {', '.join(ambiguous)}: choose them by number", field)
    return sorted(out)


def _district(conn: sa.Connection, hromada_id: int, code: str, field: str = "district") -> sa.RowMapping:
    row = conn.execute(sa.select(starosta_district).where(starosta_district.c.hromada_id == hromada_id,
                                                          starosta_district.c.code == code)).mappings().first()
    if row is None:
        raise _bad(f"У громаді немає старостинського округу з кодом {code!r}",
                   f"The hromada has no starosta district with code {code!r}", field)
    return row


def save_district(conn: sa.Connection, hromada_id: int, data: dict, by: By) -> int:
    """Insert or update the starosta district ``data["code"]`` with its settlements (names or ids);
    its id. A settlement of another district moves here. The areas of the assignments that name the
    changed districts are derived again."""
    _require_hromada(conn, hromada_id)
    code = check_code(data.get("code"), "Код округу", "District code")
    current = conn.execute(sa.select(starosta_district).where(starosta_district.c.hromada_id == hromada_id,
                                                              starosta_district.c.code == code)).mappings().first()
    new = {"name_uk": _name(data.get("name_uk", current and current["name_uk"]), "name_uk", required=True),
           "name_en": _name(data.get("name_en", current and current["name_en"]), "name_en", required=False)}
    if "settlements" in data or current is None:
        wanted = resolve_settlements(conn, hromada_id, data.get("settlements") or [])
    else:  # left out: the villages stay
        wanted = sorted(conn.execute(sa.select(district_settlement.c.settlement_id)
                                     .where(district_settlement.c.district_id == current["id"])).scalars())
    if current is None:
        district_id = conn.execute(starosta_district.insert().values(hromada_id=hromada_id, code=code, **new)
                                   .returning(starosta_district.c.id)).scalar_one()
        diff = dict(new)
        action = "district.create"
        have: list[int] = []
    else:
        district_id = current["id"]
        diff = _changes(dict(current), new)
        if diff:
            conn.execute(starosta_district.update().where(starosta_district.c.id == district_id)
                         .values(**{k: new[k] for k in diff}))
        action = "district.update"
        have = sorted(conn.execute(sa.select(district_settlement.c.settlement_id)
                                   .where(district_settlement.c.district_id == district_id)).scalars())
    touched = {district_id}
    if wanted != have:
        names = dict(conn.execute(sa.select(settlement.c.id, settlement.c.name_uk)
                                  .where(settlement.c.id.in_(set(wanted) | set(have)))).all())
        moved_from = conn.execute(sa.select(district_settlement.c.district_id).where(
            district_settlement.c.settlement_id.in_(wanted), district_settlement.c.district_id != district_id)) \
            .scalars().all()
        touched |= set(moved_from)
        conn.execute(district_settlement.delete().where(sa.or_(
            district_settlement.c.district_id == district_id, district_settlement.c.settlement_id.in_(wanted))))
        if wanted:
            conn.execute(district_settlement.insert(), [{"district_id": district_id, "settlement_id": s}
                                                        for s in wanted])
        diff["settlements"] = [sorted(names[s] for s in have), sorted(names[s] for s in wanted)]
    if diff or current is None:
        record(conn, by, action, hromada_id=hromada_id, object=code, detail=diff)
    if wanted != have:
        rederive_areas(conn, hromada_id, district_ids=touched)
    return district_id


def delete_district(conn: sa.Connection, hromada_id: int, code: str, by: By) -> None:
    """Delete the district; the assignments that name it are deleted first (each recorded)."""
    row = _district(conn, hromada_id, code, "code")
    for assignment_id in conn.execute(sa.select(unit_category.c.id).where(unit_category.c.district_id == row["id"])
                                      .order_by(unit_category.c.id)).scalars().all():
        delete_assignment(conn, hromada_id, assignment_id, by)
    conn.execute(starosta_district.delete().where(starosta_district.c.id == row["id"]))
    record(conn, by, "district.delete", hromada_id=hromada_id, object=code, detail={"name_uk": row["name_uk"]})


def hromada_outline(conn: sa.Connection, katottg: str) -> dict:
    """The hromada's bounding box (``minx``, ``miny``, ``maxx``, ``maxy``) and its boundary,
    simplified, as a GeoJSON dict (``shape``, None without one), for the console's maps and the
    outline of the thematic maps (webmap.mapview.add_boundary)."""
    row = conn.execute(sa.text("""
        SELECT ST_XMin(boundary) AS minx, ST_YMin(boundary) AS miny, ST_XMax(boundary) AS maxx,
               ST_YMax(boundary) AS maxy, ST_AsGeoJSON(ST_SimplifyPreserveTopology(boundary, 0.0002), 6) AS shape
        FROM hromada WHERE katottg = :k"""), {"k": katottg}).mappings().first()
    if row is None:
        raise NotFound(f"Громаду {katottg} не знайдено (її межу ще не завантажено?)",
                       f"Hromada {katottg} not found (is its boundary loaded?)")
    return {**row, "shape": json.loads(row["shape"]) if row["shape"] else None}


# --- the cells of settlements: where a village's assignments reach -------------------------------

def _hromada_boundary(conn: sa.Connection, hromada_id: int) -> BaseGeometry:
    wkb = conn.execute(sa.select(sa.func.ST_AsBinary(hromada.c.boundary)).where(hromada.c.id == hromada_id)) \
        .scalar_one()
    return shapely.from_wkb(bytes(wkb))


def settlement_cells(conn: sa.Connection, hromada_id: int) -> dict[int, BaseGeometry]:
    """Each settlement's cell: its own boundary, plus the part of the Voronoi cell of its centre that
    lies in no settlement's boundary; everything clipped to the hromada. Together the cells cover
    the whole hromada, so a district's assignment also covers the fields and roads between its
    villages. Deterministic: the same data give the same cells (re-deriving writes nothing)."""
    boundary = _hromada_boundary(conn, hromada_id)
    rows = conn.execute(sa.text("""
        SELECT id, ST_AsBinary(boundary) AS own, ST_AsBinary(COALESCE(centre, ST_PointOnSurface(boundary))) AS centre
        FROM settlement WHERE hromada_id = :h ORDER BY id"""), {"h": hromada_id}).all()
    if not rows:
        return {}
    own = {r.id: shapely.from_wkb(bytes(r.own)).intersection(boundary) for r in rows if r.own is not None}
    covered = shapely.union_all(list(own.values())) if own else None
    centres = {r.id: shapely.from_wkb(bytes(r.centre)) for r in rows}
    distinct = {(p.x, p.y) for p in centres.values()}
    voronoi = (shapely.voronoi_polygons(MultiPoint(sorted(distinct)), extend_to=boundary).geoms
               if len(distinct) > 1 else [boundary])
    cells = {}
    for sid, point in centres.items():
        cell = next((c for c in voronoi if c.covers(point)), None)
        part = cell.intersection(boundary) if cell is not None else shapely.Polygon()
        if covered is not None:
            part = part.difference(covered)
        if sid in own:
            part = shapely.union_all([own[sid], part])
        cells[sid] = part
    return cells


def villages_area(conn: sa.Connection, hromada_id: int, settlement_ids, cells: dict | None = None):
    """The union of the settlements' cells as a MultiPolygon, or None when there is none."""
    cells = settlement_cells(conn, hromada_id) if cells is None else cells
    parts = [cells[s] for s in settlement_ids if s in cells and not cells[s].is_empty]
    if not parts:
        return None
    try:
        return to_multipolygon(shapely.union_all(parts), what="area").geometry
    except InvalidGeometry:
        return None


def _geom_value(geom):
    return None if geom is None else sa.func.ST_SetSRID(sa.func.ST_GeomFromWKB(shapely.to_wkb(geom)), 4326)


def _settlements_of_assignment(conn: sa.Connection, row) -> list[int]:
    if row.scope == "district":
        return conn.execute(sa.select(district_settlement.c.settlement_id)
                            .where(district_settlement.c.district_id == row.district_id)).scalars().all()
    return list(row.settlement_ids or [])


def rederive_areas(conn: sa.Connection, hromada_id: int, *, district_ids=None) -> int:
    """Derive again the areas of the hromada's district and village assignments (only of the given
    districts, if named) — after districts or settlements change. Writes only what differs; the
    number of assignments changed."""
    query = sa.select(unit_category.c.id, unit_category.c.unit_id, unit_category.c.scope,
                      unit_category.c.district_id, unit_category.c.settlement_ids) \
        .join(unit, unit.c.id == unit_category.c.unit_id) \
        .where(unit.c.hromada_id == hromada_id, unit_category.c.scope.in_(("district", "villages")))
    if district_ids is not None:
        query = query.where(unit_category.c.district_id.in_(list(district_ids)))
    rows = conn.execute(query).all()
    if not rows:
        return 0
    cells = settlement_cells(conn, hromada_id)
    changed, units = 0, set()
    for row in rows:
        area = _geom_value(villages_area(conn, hromada_id, _settlements_of_assignment(conn, row), cells))
        done = conn.execute(unit_category.update().where(
            unit_category.c.id == row.id,
            unit_category.c.area.is_distinct_from(area if area is not None else sa.null()))
            .values(area=area)).rowcount
        if done:
            changed += 1
            units.add(row.unit_id)
    for unit_id in units:
        _refresh_service_area(conn, unit_id)
    return changed


def _refresh_service_area(conn: sa.Connection, unit_id: int) -> None:
    """unit.service_area (the "responsible units" map layer) follows the unit's assignments: the
    union of their areas, or NULL when it handles something in the whole hromada. Routing does not
    read it."""
    conn.execute(sa.text("""
        WITH a AS (SELECT CASE WHEN bool_or(scope = 'hromada') THEN NULL
                               ELSE ST_Multi(ST_CollectionExtract(ST_Union(area), 3)) END AS g
                   FROM unit_category WHERE unit_id = :u)
        UPDATE unit SET service_area = (SELECT g FROM a)
        WHERE id = :u AND service_area IS DISTINCT FROM (SELECT g FROM a)"""), {"u": unit_id})


# --- assignments: who handles what, where ------------------------------------------------------

def _category_here(conn: sa.Connection, hromada_id: int, code, field: str = "category") -> sa.RowMapping:
    """A catalogue category or one of this hromada's own (disabled ones too)."""
    row = conn.execute(sa.select(category).where(
        category.c.code == code, category.c.is_active,
        sa.or_(category.c.hromada_id.is_(None), category.c.hromada_id == hromada_id))).mappings().first()
    if row is None:
        raise _bad(f"Невідома категорія {code!r}", f"Unknown category {code!r}", field)
    return row


def check_area(conn: sa.Connection, hromada_id: int, value, field: str = "area"):
    """A GeoJSON Polygon/MultiPolygon (dict or text) as a valid MultiPolygon that overlaps the
    hromada. InvalidInput when it is not GeoJSON, not an area, or lies wholly outside the hromada."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise _bad("Ділянка має бути GeoJSON-полігоном (Polygon або MultiPolygon)",
                   "The area must be a GeoJSON Polygon or MultiPolygon", field)
    try:
        geom = shape(value)
        checked = to_multipolygon(geom, what="area")
    except InvalidGeometry as exc:
        raise _bad(f"Ділянка: {exc.uk}", f"Area: {exc.en}", field) from None
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException):
        raise _bad("Ділянка: неправильні координати GeoJSON", "Area: bad GeoJSON coordinates", field) from None
    geom = checked.geometry
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        raise _bad("Ділянка: координати поза межами (довгота, широта в градусах)",
                   "Area: coordinates out of range (longitude, latitude in degrees)", field)
    inside = conn.execute(sa.text("""
        SELECT ST_Area(ST_Intersection(boundary, ST_SetSRID(ST_GeomFromWKB(:g), 4326))::geography)
        FROM hromada WHERE id = :h"""), {"g": shapely.to_wkb(geom), "h": hromada_id}).scalar()
    if not inside or inside < 1:
        raise _bad("Ділянка лежить поза межами громади", "The area lies outside the hromada", field)
    return geom


def _place_words(conn: sa.Connection, scope: str, district_name: tuple | None, villages: list[str],
                 area_km2: float | None) -> tuple[str, str]:
    if scope == "hromada":
        return SCOPE_WORDS["hromada"]
    if scope == "district":
        uk, en = district_name or ("?", "?")
        return f"{uk} (старостинський округ)", f"{en or uk} (starosta district)"
    if scope == "villages":
        return f"населені пункти: {', '.join(villages)}", f"villages: {', '.join(villages)}"
    size = f"{area_km2:.2f} км²" if area_km2 is not None else ""
    return f"ділянка на мапі {size}".strip(), f"an area on the map {size.replace('км²', 'km²')}".strip()


def list_assignments(conn: sa.Connection, hromada_id: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT uc.id, uc.scope, uc.settlement_ids,
               c.code AS category_code, c.name_uk AS category_name_uk, c.name_en AS category_name_en,
               u.code AS unit_code, u.name_uk AS unit_name_uk, u.name_en AS unit_name_en,
               d.code AS district_code, d.name_uk AS district_name_uk, d.name_en AS district_name_en,
               CASE WHEN uc.scope = 'area' THEN ST_AsGeoJSON(uc.area, 7) END AS area_json,
               ST_Area(uc.area::geography) / 1e6 AS area_km2,
               ARRAY(SELECT s.name_uk FROM settlement s WHERE s.id = ANY(uc.settlement_ids)
                     ORDER BY s.name_uk) AS villages
        FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
        LEFT JOIN starosta_district d ON d.id = uc.district_id
        WHERE u.hromada_id = :h
        ORDER BY c.id, array_position(ARRAY['hromada', 'district', 'villages', 'area'], uc.scope), uc.id"""),
        {"h": hromada_id}).mappings()
    out = []
    for r in rows:
        villages = list(r["villages"] or [])
        where_uk, where_en = _place_words(conn, r["scope"], (r["district_name_uk"], r["district_name_en"]),
                                          villages, r["area_km2"])
        out.append({
            "id": r["id"], "scope": r["scope"],
            "category_code": r["category_code"], "category_name_uk": r["category_name_uk"],
            "category_name_en": r["category_name_en"],
            "unit_code": r["unit_code"], "unit_name_uk": r["unit_name_uk"], "unit_name_en": r["unit_name_en"],
            "district_code": r["district_code"], "villages": villages,
            "settlement_ids": list(r["settlement_ids"] or []),
            "area": json.loads(r["area_json"]) if r["area_json"] else None,
            "where_uk": where_uk, "where_en": where_en,
        })
    return out


def add_assignment(conn: sa.Connection, hromada_id: int, data: dict, by: By) -> int:
    """A unit handles a category somewhere: ``scope`` hromada (default), district (``district``: its
    code), villages (``villages``: names or ids) or area (``area``: GeoJSON overlapping the hromada).
    Its id. InvalidInput names the field at fault; Conflict: the same assignment exists."""
    _require_hromada(conn, hromada_id)
    cat = _category_here(conn, hromada_id, data.get("category"))
    the_unit = _unit(conn, hromada_id, data.get("unit"))
    scope = data.get("scope") or "hromada"
    if scope not in ASSIGNMENT_SCOPES:
        raise _bad(f"Невідоме «де» {scope!r}; можливі: {', '.join(ASSIGNMENT_SCOPES)}",
                   f"Unknown scope {scope!r}; known: {', '.join(ASSIGNMENT_SCOPES)}", "scope")
    values = {"unit_id": the_unit["id"], "category_id": cat["id"], "scope": scope,
              "district_id": None, "settlement_ids": None, "area": None}
    same = [unit_category.c.unit_id == the_unit["id"], unit_category.c.category_id == cat["id"],
            unit_category.c.scope == scope]
    place: dict = {}
    if scope == "district":
        if not data.get("district"):
            raise _bad("Оберіть старостинський округ", "Choose a starosta district", "district")
        district = _district(conn, hromada_id, data["district"])
        values["district_id"] = district["id"]
        same.append(unit_category.c.district_id == district["id"])
        villages = conn.execute(sa.select(district_settlement.c.settlement_id)
                                .where(district_settlement.c.district_id == district["id"])).scalars().all()
        values["area"] = _geom_value(villages_area(conn, hromada_id, villages))
        place = {"district": district["code"]}
    elif scope == "villages":
        ids = resolve_settlements(conn, hromada_id, data.get("villages"), "villages")
        if not ids:
            raise _bad("Оберіть хоча б один населений пункт", "Choose at least one village", "villages")
        values["settlement_ids"] = ids
        same.append(unit_category.c.settlement_ids == sa.cast(ids, unit_category.c.settlement_ids.type))
        values["area"] = _geom_value(villages_area(conn, hromada_id, ids))
        place = {"villages": ids}
    elif scope == "area":
        geom = check_area(conn, hromada_id, data.get("area"))
        values["area"] = _geom_value(geom)
        same.append(sa.func.ST_HausdorffDistance(unit_category.c.area, _geom_value(geom)) < SAME_AREA_DEG)
        place = {"area_km2": None}
    if conn.execute(sa.select(unit_category.c.id).where(*same)).first() is not None:
        raise Conflict(f"Таке призначення вже є: {the_unit['code']} — {cat['code']} ({scope})",
                       f"This assignment exists already: {the_unit['code']} — {cat['code']} ({scope})")
    assignment_id = conn.execute(unit_category.insert().values(**values).returning(unit_category.c.id)).scalar_one()
    _refresh_service_area(conn, the_unit["id"])
    if scope == "area":
        place["area_km2"] = round(conn.execute(sa.text(
            "SELECT ST_Area(area::geography) / 1e6 FROM unit_category WHERE id = :i"),
            {"i": assignment_id}).scalar(), 3)
    record(conn, by, "assignment.create", hromada_id=hromada_id, object=f"{cat['code']} → {the_unit['code']}",
           detail={"scope": scope, **place})
    return assignment_id


def delete_assignment(conn: sa.Connection, hromada_id: int, assignment_id: int, by: By) -> None:
    row = conn.execute(sa.text("""
        SELECT uc.id, uc.unit_id, uc.scope, c.code AS category, u.code AS unit
        FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
        WHERE uc.id = :i AND u.hromada_id = :h"""), {"i": assignment_id, "h": hromada_id}).mappings().first()
    if row is None:
        raise NotFound(f"Призначення {assignment_id} у цій громаді немає",
                       f"Assignment {assignment_id} is not in this hromada")
    conn.execute(unit_category.delete().where(unit_category.c.id == assignment_id))
    _refresh_service_area(conn, row["unit_id"])
    record(conn, by, "assignment.delete", hromada_id=hromada_id, object=f"{row['category']} → {row['unit']}",
           detail={"scope": row["scope"]})


# --- categories ------------------------------------------------------------------------------------

def list_categories(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The catalogue and the hromada's own categories, with whether they are on here, the target
    time in effect and whether some unit handles them somewhere (an assignment or an asset owner)."""
    rows = conn.execute(sa.text("""
        SELECT c.id, c.code, c.name_uk, c.name_en, c.asset_kind, c.hromada_id IS NOT NULL AS local,
               COALESCE(hc.enabled, true) AS enabled, COALESCE(hc.target_days, c.target_days) AS target_days,
               c.target_days AS catalogue_target_days, hc.target_days AS own_target_days,
               COALESCE(hc.premoderate, c.premoderate) AS premoderate,
               (EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                        WHERE uc.category_id = c.id AND u.hromada_id = :h)
                OR EXISTS (SELECT 1 FROM asset_owner ao WHERE ao.hromada_id = :h AND ao.asset_kind = c.asset_kind))
                 AS handled
        FROM category c LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = :h
        WHERE c.is_active AND (c.hromada_id IS NULL OR c.hromada_id = :h)
        ORDER BY c.hromada_id NULLS FIRST, c.id"""), {"h": hromada_id}).mappings()
    return [dict(r) for r in rows]


def set_category(conn: sa.Connection, hromada_id: int, code: str, *, enabled: bool, target_days: int | None,
                 by: By, premoderate: bool | None = None) -> None:
    """Turn a category on or off here, set its own target time (None: the catalogue's) and whether a
    new report of it waits for approval here (None: leave it as it is; layers.moderation)."""
    _require_hromada(conn, hromada_id)
    cat = _category_here(conn, hromada_id, code, "code")
    enabled = _bool(enabled, "enabled")
    target_days = check_target_days(target_days)
    current = conn.execute(sa.select(hromada_category.c.enabled, hromada_category.c.target_days,
                                     hromada_category.c.premoderate).where(
        hromada_category.c.hromada_id == hromada_id, hromada_category.c.category_id == cat["id"])).first()
    old = {"enabled": current.enabled if current else True, "target_days": current.target_days if current else None,
           "premoderate": bool(current.premoderate) if current else False}
    held = old["premoderate"] if premoderate is None else _bool(premoderate, "premoderate")
    new = {"enabled": enabled, "target_days": target_days, "premoderate": held}
    diff = _changes(old, new)
    if not diff:
        return
    new["premoderate"] = held or None  # stored only when on; off is the catalogue's own (off)
    key = (hromada_category.c.hromada_id == hromada_id, hromada_category.c.category_id == cat["id"])
    if enabled and target_days is None and not held:
        conn.execute(hromada_category.delete().where(*key))  # back to the catalogue's settings
    elif current is None:
        conn.execute(hromada_category.insert().values(hromada_id=hromada_id, category_id=cat["id"], **new))
    else:
        conn.execute(hromada_category.update().where(*key).values(**new))
    record(conn, by, "category.update", hromada_id=hromada_id, object=cat["code"], detail=diff)


def save_local_category(conn: sa.Connection, hromada_id: int, data: dict, by: By) -> int:
    """Insert or update one of the hromada's own categories (code, name_uk, name_en, target_days);
    its id. Conflict: the code belongs to the catalogue or another hromada (codes are global)."""
    _require_hromada(conn, hromada_id)
    code = check_code(data.get("code"), "Код категорії", "Category code")
    new = {"name_uk": _name(data.get("name_uk"), "name_uk", required=True),
           "name_en": _name(data.get("name_en"), "name_en", required=False),
           "target_days": check_target_days(data.get("target_days")) or 10}
    if new["name_en"] is None:
        raise _bad("Потрібна назва англійською", "An English name is required", "name_en")
    current = conn.execute(sa.select(category).where(category.c.code == code)).mappings().first()
    if current is not None and current["hromada_id"] != hromada_id:
        raise Conflict(f"Код категорії {code} уже зайнятий (каталог або інша громада): оберіть інший",
                       f"The category code {code} is taken (the catalogue or another hromada): choose another",
                       field="code")
    if current is None:
        category_id = conn.execute(category.insert().values(code=code, hromada_id=hromada_id, **new)
                                   .returning(category.c.id)).scalar_one()
        record(conn, by, "category.create", hromada_id=hromada_id, object=code, detail=new)
        return category_id
    diff = _changes(dict(current), {**new, "is_active": True})
    if diff:
        conn.execute(category.update().where(category.c.id == current["id"])
                     .values(**{k: v[1] for k, v in diff.items()}))
        record(conn, by, "category.update", hromada_id=hromada_id, object=code, detail=diff)
    return current["id"]


def add_local_category(conn: sa.Connection, hromada_id: int, data: dict, by: By) -> int:
    """A new category of the hromada's own; Conflict when the code exists anywhere."""
    code = check_code(data.get("code"), "Код категорії", "Category code")
    if conn.execute(sa.select(category.c.id).where(category.c.code == code)).first() is not None:
        raise Conflict(f"Категорія з кодом {code} уже є", f"A category with code {code} exists", field="code")
    return save_local_category(conn, hromada_id, data, by)


def delete_local_category(conn: sa.Connection, hromada_id: int, code: str, by: By) -> None:
    """Delete one of the hromada's own categories. Conflict when reports have it: turn it off instead."""
    row = conn.execute(sa.select(category).where(category.c.code == code, category.c.hromada_id == hromada_id)) \
        .mappings().first()
    if row is None:
        raise NotFound(f"Власної категорії {code!r} у громаді немає", f"The hromada has no own category {code!r}")
    reports = conn.execute(sa.text("SELECT count(*) FROM report WHERE category_id = :c"), {"c": row["id"]}).scalar()
    if reports:
        raise Conflict(f"Категорію {code} не можна вилучити: її мають звернення ({reports}); вимкніть її",
                       f"Category {code} cannot be deleted: {reports} report(s) have it; switch it off instead")
    conn.execute(category.delete().where(category.c.id == row["id"]))
    record(conn, by, "category.delete", hromada_id=hromada_id, object=code, detail={"name_uk": row["name_uk"]})


# --- asset owners and the default unit -------------------------------------------------------------

def list_asset_owners(conn: sa.Connection, hromada_id: int) -> list[dict]:
    from gis.routing import ASSET_KINDS, OWNER_CLASSES

    rows = conn.execute(sa.text("""
        SELECT ao.asset_kind, ao.owner_class, u.code AS unit_code, u.name_uk AS unit_name_uk, u.name_en AS unit_name_en
        FROM asset_owner ao JOIN unit u ON u.id = ao.unit_id WHERE ao.hromada_id = :h
        ORDER BY ao.asset_kind, ao.owner_class"""), {"h": hromada_id}).mappings()
    out = []
    for r in rows:
        kind = ASSET_KINDS.get(r["asset_kind"], {"uk": r["asset_kind"], "en": r["asset_kind"]})
        owner = OWNER_CLASSES.get(r["owner_class"], {"uk": r["owner_class"], "en": r["owner_class"]})
        out.append({**dict(r), "kind_uk": kind["uk"], "kind_en": kind["en"],
                    "owner_uk": owner["uk"], "owner_en": owner["en"]})
    return out


def set_asset_owner(conn: sa.Connection, hromada_id: int, asset_kind: str, owner_class: str, unit_code: str | None,
                    by: By) -> None:
    """Who answers for assets of a kind and owner class that have no unit of their own; None removes."""
    from gis.routing import ASSET_KINDS, OWNER_CLASSES

    _require_hromada(conn, hromada_id)
    if asset_kind not in ASSET_KINDS:
        raise _bad(f"Невідомий вид об'єктів {asset_kind!r}; можливі: {', '.join(ASSET_KINDS)}",
                   f"Unknown asset kind {asset_kind!r}; known: {', '.join(ASSET_KINDS)}", "asset_kind")
    if owner_class not in OWNER_CLASSES:
        raise _bad(f"Невідомий власник {owner_class!r}; можливі: {', '.join(OWNER_CLASSES)}",
                   f"Unknown owner class {owner_class!r}; known: {', '.join(OWNER_CLASSES)}", "owner_class")
    key = (asset_owner.c.hromada_id == hromada_id, asset_owner.c.asset_kind == asset_kind,
           asset_owner.c.owner_class == owner_class)
    current = conn.execute(sa.select(asset_owner.c.id, unit.c.code).join(unit, unit.c.id == asset_owner.c.unit_id)
                           .where(*key)).first()
    old_code = current.code if current else None
    if unit_code in ("", None):
        unit_code = None
    if unit_code == old_code:
        return
    if unit_code is None:
        conn.execute(asset_owner.delete().where(*key))
    else:
        the_unit = _unit(conn, hromada_id, unit_code)
        if current is None:
            conn.execute(asset_owner.insert().values(hromada_id=hromada_id, asset_kind=asset_kind,
                                                     owner_class=owner_class, unit_id=the_unit["id"]))
        else:
            conn.execute(asset_owner.update().where(asset_owner.c.id == current.id).values(unit_id=the_unit["id"]))
    record(conn, by, "asset_owner.set", hromada_id=hromada_id, object=f"{asset_kind}/{owner_class}",
           detail={"unit": [old_code, unit_code]})


def default_unit(conn: sa.Connection, hromada_id: int) -> dict | None:
    """The unit that gets a report no rule covers ({id, code, name_uk, name_en}), or None."""
    row = conn.execute(sa.text("""
        SELECT u.id, u.code, u.name_uk, u.name_en FROM hromada_setup s JOIN unit u ON u.id = s.default_unit_id
        WHERE s.hromada_id = :h"""), {"h": hromada_id}).mappings().first()
    return dict(row) if row else None


def set_default_unit(conn: sa.Connection, hromada_id: int, unit_code: str | None, by: By) -> None:
    _require_hromada(conn, hromada_id)
    unit_code = unit_code or None
    old = default_unit(conn, hromada_id)
    if (old["code"] if old else None) == unit_code:
        return
    unit_id = _unit(conn, hromada_id, unit_code)["id"] if unit_code else None
    conn.execute(sa.text("""
        INSERT INTO hromada_setup (hromada_id, default_unit_id) VALUES (:h, :u)
        ON CONFLICT (hromada_id) DO UPDATE SET default_unit_id = :u"""), {"h": hromada_id, "u": unit_id})
    record(conn, by, "default_unit.set", hromada_id=hromada_id, object=unit_code,
           detail={"unit": [old["code"] if old else None, unit_code]})


def is_enabled(conn: sa.Connection, hromada_id: int) -> bool:
    return conn.execute(sa.select(hromada_setup.c.enabled_at.is_not(None))
                        .where(hromada_setup.c.hromada_id == hromada_id)).scalar() or False


def set_enabled(conn: sa.Connection, hromada_id: int, enabled: bool, by: By) -> None:
    """Whether the hromada takes reports (through gis.accounts, the operator's own switch)."""
    from gis import accounts

    place = _require_hromada(conn, hromada_id)
    if _bool(enabled, "enabled") != is_enabled(conn, hromada_id):
        (accounts.enable_hromada if enabled else accounts.disable_hromada)(conn, place["katottg"], by)


# --- warnings and the routing preview ---------------------------------------------------------------

def warnings(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """What would make reports go astray, each {"uk", "en", "category", "where", "section"}: an enabled
    category no unit handles (anywhere, or in part of the hromada) with no default unit, an area
    reaching outside the hromada, villages in no starosta district, a unit with no e-mail, a unit
    with accounts but nobody to work its queue, and a hromada that does not take reports yet."""
    _require_hromada(conn, hromada_id)
    out: list[dict] = []

    def add(uk, en, section, category=None, where=None):
        out.append({"uk": uk, "en": en, "category": category, "where": where, "section": section})

    if not is_enabled(conn, hromada_id):
        add("Громада ще не приймає звернень: її вмикає оператор", "The hromada does not take reports yet: "
            "the operator switches it on", "overview")
    fallback = default_unit(conn, hromada_id)
    if fallback is None:
        uncovered = conn.execute(sa.text("""
            SELECT c.code, c.name_uk, c.name_en,
                   EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                           WHERE uc.category_id = c.id AND u.hromada_id = :h) AS some,
                   -- where no area of the category reaches (slivers of under 0.1 ha are rounding, not gaps)
                   CASE WHEN NOT EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                                         WHERE uc.category_id = c.id AND u.hromada_id = :h AND uc.scope = 'hromada')
                   THEN (SELECT CASE WHEN ST_Area(g::geography) > 1000 THEN ST_AsGeoJSON(g, 6) END
                         FROM (SELECT ST_Difference(h.boundary, ST_Union(uc.area)) AS g
                               FROM unit_category uc JOIN unit u ON u.id = uc.unit_id, hromada h
                               WHERE h.id = :h AND uc.category_id = c.id AND u.hromada_id = :h
                                 AND uc.area IS NOT NULL
                               GROUP BY h.boundary) d) END AS gap,
                   c.snap_distance_m,
                   EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                           WHERE uc.category_id = c.id AND u.hromada_id = :h AND uc.scope = 'hromada') AS everywhere,
                   EXISTS (SELECT 1 FROM asset_owner ao WHERE ao.hromada_id = :h AND ao.asset_kind = c.asset_kind)
                     AS by_asset
            FROM category c LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = :h
            WHERE c.is_active AND (c.hromada_id IS NULL OR c.hromada_id = :h) AND COALESCE(hc.enabled, true)
            ORDER BY c.id"""), {"h": hromada_id}).mappings().all()
        for c in uncovered:
            if c["everywhere"]:
                continue
            if not c["some"] and not c["by_asset"]:
                add(f"Категорію «{c['name_uk']}» не обслуговує жоден підрозділ і немає підрозділу за замовчуванням: "
                    "такі звернення не приймаються",
                    f"No unit handles “{c['name_en']}” and there is no default unit: such reports are refused",
                    "assignments", c["code"])
            elif not c["some"]:
                add(f"Категорію «{c['name_uk']}» обслуговують лише біля об'єктів (до {c['snap_distance_m']} м); "
                    "деінде звернення не приймаються: призначте підрозділ для всієї громади",
                    f"“{c['name_en']}” is handled only near assets (within {c['snap_distance_m']} m); elsewhere "
                    "reports are refused: assign a unit for the whole hromada", "assignments", c["code"])
            elif c["gap"]:
                gap = json.loads(c["gap"])
                if gap.get("coordinates"):
                    add(f"Категорію «{c['name_uk']}» обслуговують лише в частині громади; деінде звернення "
                        "не приймаються (показано на мапі)",
                        f"“{c['name_en']}” is handled in part of the hromada only; elsewhere reports are refused "
                        "(shown on the map)", "assignments", c["code"], gap)
    for r in conn.execute(sa.text("""
            SELECT c.code, u.code AS unit, ST_AsGeoJSON(ST_Difference(uc.area, h.boundary), 6) AS outside
            FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
            JOIN hromada h ON h.id = u.hromada_id
            WHERE u.hromada_id = :h AND uc.area IS NOT NULL
              AND ST_Area(ST_Difference(uc.area, h.boundary)::geography) > 100
            ORDER BY uc.id"""), {"h": hromada_id}).mappings():
        add(f"Ділянка «{r['code']} → {r['unit']}» виходить за межі громади (показано на мапі)",
            f"The area “{r['code']} → {r['unit']}” reaches outside the hromada (shown on the map)",
            "assignments", r["code"], json.loads(r["outside"]))
    settlements = list_settlements(conn, hromada_id)
    if any(s["district_code"] for s in settlements):
        loose = [s for s in settlements if not s["district_code"]]
        if loose:
            names = ", ".join(s["name_uk"] for s in loose)
            where = villages_area(conn, hromada_id, [s["id"] for s in loose])
            add(f"Населені пункти поза старостинськими округами: {names}",
                f"Villages in no starosta district: {names}", "districts", None,
                shapely.geometry.mapping(where) if where is not None else None)
    for u in list_units(conn, hromada_id):
        name = u["name_uk"]
        if not u["emails"]:
            add(f"Підрозділ «{name}» не має адреси ел. пошти: листи про звернення йому не надходитимуть",
                f"Unit “{u['name_en'] or name}” has no e-mail address: it will not be told about reports", "units")
        elif u["has_accounts"] and not u["staff_count"] and _handles_something(conn, u["id"]):
            add(f"У підрозділу «{name}» ще немає працівників з обліковими записами: його звернення нікому опрацювати "
                "в системі (листи надходять)",
                f"Unit “{u['name_en'] or name}” has no staff accounts yet: nobody works its queue in the system "
                "(mail still goes out)", "units")
    return out


def _handles_something(conn: sa.Connection, unit_id: int) -> bool:
    return conn.execute(sa.text("""SELECT EXISTS (SELECT 1 FROM unit_category WHERE unit_id = :u)
                                   OR EXISTS (SELECT 1 FROM asset_owner WHERE unit_id = :u)
                                   OR EXISTS (SELECT 1 FROM hromada_setup WHERE default_unit_id = :u)"""),
                        {"u": unit_id}).scalar()


def preview_route(conn: sa.Connection, hromada_id: int, lon, lat, category_code: str) -> dict:
    """Which unit a report at the point would go to, by which rule and why — computed by
    gis.routing.route_report itself (only "does the hromada take reports yet" is not asked, so an
    administrator can check the set-up before going live). The same 4xx as routing otherwise;
    InvalidInput when the point is in another hromada."""
    from gis.routing import check_point, hromada_at, route_report

    place = _require_hromada(conn, hromada_id)
    lon, lat = check_point(lon, lat)
    found = hromada_at(conn, lon, lat)
    if found is None or found.id != hromada_id:
        raise _bad(f"Точка поза громадою «{place['name_uk']}»",
                   f"The point is outside {place['name_en'] or place['name_uk']}", "lat")
    route = route_report(conn, lon, lat, category_code, require_enabled=False)
    row = conn.execute(sa.select(unit.c.code, unit.c.name_uk, unit.c.name_en).where(unit.c.id == route.unit_id)) \
        .mappings().one()
    return {"unit": dict(row), "rule": route.rule, "reason_uk": route.reason_uk, "reason_en": route.reason_en,
            "target_days": route.target_days, "asset_id": route.asset_id}


# --- days off (deadlines in working days: gis.working_days) ---------------------------------------

def _date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"Дата {value!r}: потрібно РРРР-ММ-ДД", f"Date {value!r}: YYYY-MM-DD is needed") from None


def list_days_off(conn: sa.Connection, hromada_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.select(hromada_day_off.c.day, hromada_day_off.c.note).where(
        hromada_day_off.c.hromada_id == hromada_id).order_by(hromada_day_off.c.day)).mappings()]


def add_day_off(conn: sa.Connection, hromada_id: int, day, note: str | None, *, by: By) -> None:
    """A day the hromada's offices do not work: deadlines skip it from now on."""
    _require_hromada(conn, hromada_id)
    day = _date(day)
    note = (note or "").strip()[:200] or None
    added = conn.execute(pg_insert(hromada_day_off).values(hromada_id=hromada_id, day=day, note=note)
                         .on_conflict_do_nothing().returning(hromada_day_off.c.day)).first()
    if added is not None:
        record(conn, by, "day_off.add", hromada_id=hromada_id, object=day.isoformat(), detail={"note": note})


def remove_day_off(conn: sa.Connection, hromada_id: int, day, *, by: By) -> None:
    _require_hromada(conn, hromada_id)
    day = _date(day)
    gone = conn.execute(hromada_day_off.delete().where(hromada_day_off.c.hromada_id == hromada_id,
                                                       hromada_day_off.c.day == day).returning(hromada_day_off.c.day)
                        ).first()
    if gone is not None:
        record(conn, by, "day_off.remove", hromada_id=hromada_id, object=day.isoformat())
