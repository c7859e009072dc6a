"""A hromada's whole set-up as one human-editable YAML file (issue #14).

``export_setup`` writes it; ``apply_setup`` reads it, checks all of it first (every problem with its
line and a reason in Ukrainian and English — then nothing changes), and makes the database say
what the file says through the same functions the console uses (gis.hromada_setup), so each change
is validated and recorded in the audit log. Applying is transactional and idempotent: a second
apply, or an export applied back, finds nothing to do and writes nothing.

The format (every section is optional; a section left out stays as it is, and whatever a present
section no longer lists is removed — except staff, who are only ever invited, never removed)::

    hromada: UA05020310000080026        # KATOTTG; the boundary and villages must be loaded
    name: Якушинецька сільська громада  # for the reader only
    enabled: true                       # takes reports (the operator's switch)
    default_unit: housing               # gets what no rule covers; null: none
    units:
      - code: housing                   # [a-z0-9_]+, names the unit everywhere in the file
        name_uk: Відділ ЖКГ
        name_en: Housing Department
        kind: department                # department, enterprise, starosta_district, outside_body, other
        emails: [housing@example.org]
        phone: null
        has_accounts: true              # false: an outside body reached by e-mail only
        notify: each                    # each: a mail per report; digest: one a day
    districts:                          # starosta districts
      - code: zarvantsi
        name_uk: Зарванецький старостинський округ
        name_en: Zarvantsi starosta district
        villages: [Зарванці]
    assignments:                        # who handles what, where (no place: the whole hromada)
      - {category: pothole, unit: housing}
      - {category: overflowing_bin, unit: sd_zarvantsi, district: zarvantsi}
      - {category: fallen_tree, unit: forestry, villages: [Березина, Лисогора]}
      - {category: water_leak, unit: water, area: {type: Polygon, coordinates: [[[28.3, 49.2], …]]}}
    categories:
      disabled: [no_signal]             # catalogue categories turned off here
      target_days: {pothole: 10}        # own target times, in days
      local:                            # the hromada's own categories
        - {code: snow_removal, name_uk: Неприбраний сніг, name_en: Snow not cleared, target_days: 2}
    asset_owners:                       # who answers for assets without a unit of their own
      road_segment: {state: road_service, regional: road_service, local: road_service, communal: housing}
    staff:                              # invitations: an account and a mail with a link
      - {email: head@example.org, name: Олена Петренко, roles: [admin]}
      - {email: roads@example.org, roles: [unit_staff], units: [housing]}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import shapely
import sqlalchemy as sa
import yaml

from gis import hromada_setup as setup
from gis import hromadas
from gis.audit import By, record
from gis.errors import HromadaError, InvalidInput
from gis.models import HROMADA_ROLES, app_user, unit

TOP_KEYS = ("hromada", "name", "enabled", "default_unit", "units", "districts", "assignments", "categories",
            "asset_owners", "staff")
UNIT_KEYS = ("code", "name_uk", "name_en", "kind", "emails", "phone", "has_accounts", "notify")
DISTRICT_KEYS = ("code", "name_uk", "name_en", "villages")
ASSIGNMENT_KEYS = ("category", "unit", "district", "villages", "area")
CATEGORY_KEYS = ("disabled", "target_days", "local")
LOCAL_KEYS = ("code", "name_uk", "name_en", "target_days")
STAFF_KEYS = ("email", "name", "roles", "units")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


class SetupFileInvalid(InvalidInput):
    """The file was refused; ``details["problems"]`` lists each problem: {line, uk, en}."""

    code = "invalid_setup_file"

    def __init__(self, problems: list[dict]):
        problems = sorted(problems, key=lambda p: (p["line"] or 0))
        uk = "\n".join(f"рядок {p['line']}: {p['uk']}" for p in problems)
        en = "\n".join(f"line {p['line']}: {p['en']}" for p in problems)
        super().__init__(f"Файл налаштувань не прийнято, нічого не змінено (проблем: {len(problems)}):\n{uk}",
                         f"The set-up file was refused, nothing changed ({len(problems)} problem(s)):\n{en}",
                         problems=problems)
        self.problems = problems


@dataclass
class Diff:
    """What an apply changes (or would change, on a dry run): one line per change, "+" added,
    "~" changed, "-" removed."""

    katottg: str
    lines: list[str] = field(default_factory=list)
    dry_run: bool = False

    def __bool__(self) -> bool:
        return bool(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines)


# --- reading YAML with line numbers (PyYAML's own parser and marks) -------------------------------

class _Map(dict):
    line = 0
    key_lines: dict


class _Seq(list):
    line = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    out = _Map()
    out.line, out.key_lines = node.start_mark.line + 1, {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in out
        except TypeError:  # a list or mapping as a key
            loader.problems.append((line, "Ключ має бути текстом", "A key must be text"))
            continue
        if duplicate:
            loader.problems.append((line, f"Ключ {key!r} повторюється (діє лише один)",
                                    f"The key {key!r} is repeated (only one would count)"))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line, out.item_lines = node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


class _Problems:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, line: int | None, uk: str, en: str) -> None:
        self.items.append({"line": line, "uk": uk, "en": en})

    def error(self, line: int | None, exc: HromadaError) -> None:
        self.add(line, exc.uk, exc.en)

    def __bool__(self) -> bool:
        return bool(self.items)


def _parse(text: str, problems: _Problems):
    loader = _Loader(text)
    loader.problems = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.add(mark.line + 1 if mark else None, f"Це не YAML: {exc.problem}", f"This is not YAML: {exc.problem}")
        return None
    except yaml.YAMLError as exc:
        problems.add(None, f"Це не YAML: {exc}", f"This is not YAML: {exc}")
        return None
    finally:
        loader.dispose()
    for line, uk, en in loader.problems:
        problems.add(line, uk, en)
    return data


def _line(container, key) -> int:
    if isinstance(container, _Map):
        return container.key_lines.get(key, container.line)
    if isinstance(container, _Seq):
        return container.item_lines[key] if 0 <= key < len(container.item_lines) else container.line
    return 0


def _unknown_keys(item: _Map, allowed, problems: _Problems, what_uk: str, what_en: str) -> None:
    for key in item:
        if key not in allowed:
            problems.add(_line(item, key), f"{what_uk}: невідомий ключ {key!r}; можливі: {', '.join(allowed)}",
                         f"{what_en}: unknown key {key!r}; known: {', '.join(allowed)}")


def _items(root: _Map, key: str, problems: _Problems, what_uk: str, what_en: str, *, mappings: bool = True):
    """(line, item) of a list section; a problem for anything that is not a list (of mappings)."""
    value = root.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(_line(root, key), f"{what_uk}: очікується список", f"{what_en}: a list is expected")
        return []
    out = []
    for i, item in enumerate(value):
        if mappings and not isinstance(item, dict):
            problems.add(_line(value, i), f"{what_uk}: кожен елемент — набір «ключ: значення»",
                         f"{what_en}: each item must be a mapping of keys to values")
            continue
        out.append((_line(value, i), item))
    return out


def _strings(value, line: int, problems: _Problems, what_uk: str, what_en: str) -> list[tuple[int, str]]:
    """(line, text) of a list of strings (one string is taken as a list of one)."""
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [(line, str(value))]
    if not isinstance(value, list):
        problems.add(line, f"{what_uk}: очікується список", f"{what_en}: a list is expected")
        return []
    out = []
    for i, v in enumerate(value):
        if isinstance(v, (str, int)) and not isinstance(v, bool):
            out.append((_line(value, i), str(v)))
        else:
            problems.add(_line(value, i), f"{what_uk}: очікується текст, не {v!r}",
                         f"{what_en}: text expected, not {v!r}")
    return out


def _field_line(item: _Map, exc: HromadaError, default: int) -> int:
    key = (exc.details or {}).get("field")
    key = {"notify_mode": "notify"}.get(key, key)
    return item.key_lines.get(key, default) if isinstance(item, _Map) and key else default


# --- the wanted state ---------------------------------------------------------------------------------

@dataclass
class _Wanted:
    hromada: dict | None = None
    enabled: bool | None = None
    default_unit: tuple[int, str | None] | None = None  # (line, code)
    units: dict | None = None  # code → (line, fields)
    districts: dict | None = None  # code → (line, names, settlement ids)
    assignments: list | None = None  # (line, key dict)
    disabled: set | None = None
    target_days: dict | None = None  # code → days
    local: dict | None = None  # code → (line, data)
    owners: dict | None = None  # (kind, class) → (line, code)
    staff: list = field(default_factory=list)  # (line, email, name, roles, unit codes)
    section_lines: dict = field(default_factory=dict)


def _read(conn: sa.Connection, text: str) -> _Wanted:
    """Check the whole file; raise SetupFileInvalid with every problem found."""
    from gis.routing import ASSET_KINDS, OWNER_CLASSES

    problems = _Problems()
    root = _parse(text, problems)
    want = _Wanted()
    if root is None and not problems:
        problems.add(1, "Файл порожній", "The file is empty")
    if root is not None and not isinstance(root, dict):
        problems.add(1, "Файл має бути набором розділів «ключ: значення» (hromada, units, …)",
                     "The file must be a mapping of sections (hromada, units, …)")
        root = None
    if root is None:
        raise SetupFileInvalid(problems.items)
    want.section_lines = dict(root.key_lines)
    _unknown_keys(root, TOP_KEYS, problems, "Файл", "File")

    katottg = root.get("hromada")
    if not isinstance(katottg, str) or not katottg.strip():
        problems.add(_line(root, "hromada"), "Вкажіть громаду: hromada: її код КАТОТТГ (UA…)",
                     "Name the hromada: hromada: its KATOTTG code (UA…)")
        raise SetupFileInvalid(problems.items)  # nothing else can be checked without it
    try:
        want.hromada = dict(hromadas.hromada_by_katottg(conn, katottg))
    except HromadaError as exc:
        problems.error(_line(root, "hromada"), exc)
        raise SetupFileInvalid(problems.items) from None
    h = want.hromada["id"]

    if "enabled" in root:
        if isinstance(root["enabled"], bool):
            want.enabled = root["enabled"]
        else:
            problems.add(_line(root, "enabled"), "enabled: очікується true або false",
                         "enabled: true or false expected")

    # Units.
    declared: set[str] = set()
    if "units" in root:
        want.units = {}
        for line, item in _items(root, "units", problems, "Підрозділи (units)", "Units"):
            _unknown_keys(item, UNIT_KEYS, problems, "Підрозділ", "Unit")
            data = {k: item.get(k) for k in ("code", "name_uk", "name_en", "kind", "emails", "phone")}
            data["kind"] = data["kind"] or "department"
            data["has_accounts"] = item.get("has_accounts", True)
            data["notify_mode"] = item.get("notify", "each")
            errors: list = []
            code, fields = setup.check_unit(data, errors=errors)
            for exc in errors:
                problems.error(_field_line(item, exc, line), exc)
            if code is not None:
                declared.add(code)  # a unit with a bad e-mail is still declared: no follow-on problems
            if errors:
                continue
            if code in want.units:
                problems.add(line, f"Підрозділ {code} описано двічі", f"Unit {code} is listed twice")
            want.units[code] = (line, fields)
    unit_codes = declared if want.units is not None else {
        u["code"] for u in setup.list_units(conn, h)}
    accounts_units = ({c for c in declared if c not in want.units or want.units[c][1]["has_accounts"]}
                      if want.units is not None else
                      {u["code"] for u in setup.list_units(conn, h) if u["has_accounts"]})

    def known_unit(code, line, what_uk="Підрозділ", what_en="Unit") -> bool:
        if not isinstance(code, str) or code not in unit_codes:
            problems.add(line, f"{what_uk} {code!r} не описано в розділі units",
                         f"{what_en} {code!r} is not declared under units")
            return False
        return True

    # Starosta districts.
    declared_districts: set[str] = set()
    if "districts" in root:
        want.districts = {}
        seen_villages: dict[int, str] = {}
        for line, item in _items(root, "districts", problems, "Округи (districts)", "Districts"):
            _unknown_keys(item, DISTRICT_KEYS, problems, "Округ", "District")
            try:
                code = setup.check_code(item.get("code"), "Код округу", "District code")
            except HromadaError as exc:
                problems.error(_field_line(item, exc, line), exc)
                continue
            declared_districts.add(code)
            try:
                names = {"name_uk": setup.check_name(item.get("name_uk"), "name_uk", required=True),
                         "name_en": setup.check_name(item.get("name_en"), "name_en", required=False)}
            except HromadaError as exc:
                problems.error(_field_line(item, exc, line), exc)
                names = None
            ids = []
            for v_line, village in _strings(item.get("villages"), _line(item, "villages"), problems,
                                            "Населені пункти", "Villages"):
                try:
                    [sid] = setup.resolve_settlements(conn, h, [village])
                except HromadaError as exc:
                    problems.error(v_line, exc)
                    continue
                if sid in seen_villages and seen_villages[sid] != code:
                    problems.add(v_line, f"{village} уже в окрузі {seen_villages[sid]}: населений пункт може бути "
                                 "лише в одному окрузі",
                                 f"{village} is in district {seen_villages[sid]} already: a village belongs to one "
                                 "district at most")
                seen_villages[sid] = code
                ids.append(sid)
            if code in want.districts:
                problems.add(line, f"Округ {code} описано двічі", f"District {code} is listed twice")
            if names is not None:
                want.districts[code] = (line, names, sorted(set(ids)))
    district_codes = declared_districts if want.districts is not None else {
        d["code"] for d in setup.list_districts(conn, h)}

    # Categories (before assignments: local ones may be assigned).
    catalogue = set(conn.execute(sa.text("SELECT code FROM category WHERE is_active AND hromada_id IS NULL")).scalars())
    categories = root.get("categories")
    if categories is not None and not isinstance(categories, dict):
        problems.add(_line(root, "categories"), "categories: очікуються розділи disabled, target_days, local",
                     "categories: the sections disabled, target_days, local are expected")
        categories = None
    declared_local: set[str] = set()
    if isinstance(categories, dict):
        _unknown_keys(categories, CATEGORY_KEYS, problems, "Категорії", "Categories")
        want.local = {}
        taken = dict(conn.execute(sa.text("SELECT code, hromada_id FROM category")).all())
        for line, item in _items(categories, "local", problems, "Власні категорії (local)", "Local categories"):
            _unknown_keys(item, LOCAL_KEYS, problems, "Власна категорія", "Local category")
            try:
                code = setup.check_code(item.get("code"), "Код категорії", "Category code")
            except HromadaError as exc:
                problems.error(_field_line(item, exc, line), exc)
                continue
            declared_local.add(code)
            try:
                data = {"code": code, "name_uk": setup.check_name(item.get("name_uk"), "name_uk", required=True),
                        "name_en": setup.check_name(item.get("name_en"), "name_en", required=False),
                        "target_days": setup.check_target_days(item.get("target_days")) or 10}
                if data["name_en"] is None:
                    raise InvalidInput("Потрібна назва англійською", "An English name is required", field="name_en")
            except HromadaError as exc:
                problems.error(_field_line(item, exc, line), exc)
                continue
            if code in taken and taken[code] != h:
                problems.add(line, f"Код категорії {code} уже зайнятий (каталог або інша громада)",
                             f"The category code {code} is taken (the catalogue or another hromada)")
            if code in want.local:
                problems.add(line, f"Категорію {code} описано двічі", f"Category {code} is listed twice")
            want.local[code] = (line, data)
    local_codes = declared_local if want.local is not None else set(conn.execute(sa.text(
        "SELECT code FROM category WHERE is_active AND hromada_id = :h"), {"h": h}).scalars())
    category_codes = catalogue | local_codes

    def known_category(code, line) -> bool:
        if not isinstance(code, str) or code not in category_codes:
            problems.add(line, f"Невідома категорія {code!r}", f"Unknown category {code!r}")
            return False
        return True

    if isinstance(categories, dict):
        want.disabled = set()
        for line, code in _strings(categories.get("disabled"), _line(categories, "disabled"), problems,
                                   "Вимкнені категорії", "Disabled categories"):
            if known_category(code, line):
                want.disabled.add(code)
        want.target_days = {}
        days = categories.get("target_days")
        if days is not None and not isinstance(days, dict):
            problems.add(_line(categories, "target_days"), "target_days: очікується «категорія: днів»",
                         "target_days: “category: days” expected")
        for code, value in (days or {}).items() if isinstance(days, dict) else ():
            line = _line(days, code)
            if not known_category(code, line):
                continue
            try:
                want.target_days[code] = setup.check_target_days(value)
            except HromadaError as exc:
                problems.error(line, exc)

    # Assignments.
    if "assignments" in root:
        want.assignments = []
        seen = []
        for line, item in _items(root, "assignments", problems, "Призначення (assignments)", "Assignments"):
            _unknown_keys(item, ASSIGNMENT_KEYS, problems, "Призначення", "Assignment")
            ok = known_category(item.get("category"), _line(item, "category"))
            ok = known_unit(item.get("unit"), _line(item, "unit")) and ok
            places = [k for k in ("district", "villages", "area") if item.get(k) is not None]
            key = {"category": item.get("category"), "unit": item.get("unit"), "scope": "hromada"}
            if len(places) > 1:
                problems.add(line, "Вкажіть лише одне місце: district, villages або area (без нього — уся громада)",
                             "Give one place only: district, villages or area (none: the whole hromada)")
                continue
            if places == ["district"]:
                key["scope"], key["district"] = "district", item["district"]
                if item["district"] not in district_codes:
                    problems.add(_line(item, "district"), f"Округ {item['district']!r} не описано в розділі districts",
                                 f"District {item['district']!r} is not declared under districts")
                    ok = False
            elif places == ["villages"]:
                ids = []
                for v_line, village in _strings(item["villages"], _line(item, "villages"), problems,
                                                "Населені пункти", "Villages"):
                    try:
                        ids += setup.resolve_settlements(conn, h, [village], "villages")
                    except HromadaError as exc:
                        problems.error(v_line, exc)
                        ok = False
                if not ids:
                    ok = False
                key["scope"], key["villages"] = "villages", sorted(set(ids))
            elif places == ["area"]:
                try:
                    key["scope"], key["area"] = "area", setup.check_area(conn, h, _plain(item["area"]))
                except HromadaError as exc:
                    problems.error(_line(item, "area"), exc)
                    ok = False
            if not ok:
                continue
            if any(_same_assignment(key, other) for other in seen):
                problems.add(line, "Це призначення вже є вище у файлі", "This assignment is listed above already")
                continue
            seen.append(key)
            want.assignments.append((line, key))

    # Asset owners.
    owners = root.get("asset_owners")
    if "asset_owners" in root:
        want.owners = {}
        if owners is not None and not isinstance(owners, dict):
            problems.add(_line(root, "asset_owners"), "asset_owners: очікується «вид: {власник: підрозділ}»",
                         "asset_owners: “kind: {owner: unit}” expected")
        for kind, classes in (owners or {}).items() if isinstance(owners, dict) else ():
            line = _line(owners, kind)
            if kind not in ASSET_KINDS:
                problems.add(line, f"Невідомий вид об'єктів {kind!r}; можливі: {', '.join(ASSET_KINDS)}",
                             f"Unknown asset kind {kind!r}; known: {', '.join(ASSET_KINDS)}")
                continue
            if not isinstance(classes, dict):
                problems.add(line, f"{kind}: очікується «власник: підрозділ»", f"{kind}: “owner: unit” expected")
                continue
            for owner_class, code in classes.items():
                c_line = _line(classes, owner_class)
                if owner_class not in OWNER_CLASSES:
                    problems.add(c_line, f"Невідомий власник {owner_class!r}; можливі: {', '.join(OWNER_CLASSES)}",
                                 f"Unknown owner class {owner_class!r}; known: {', '.join(OWNER_CLASSES)}")
                elif code is not None and known_unit(code, c_line):
                    want.owners[(kind, owner_class)] = (c_line, code)

    if "default_unit" in root:
        code = root["default_unit"]
        if code is None or known_unit(code, _line(root, "default_unit")):
            want.default_unit = (_line(root, "default_unit"), code)

    # Staff invitations.
    emails_seen = set()
    for line, item in _items(root, "staff", problems, "Працівники (staff)", "Staff"):
        _unknown_keys(item, STAFF_KEYS, problems, "Працівник", "Staff member")
        try:
            [email] = setup.check_emails([item.get("email")])
        except HromadaError as exc:
            problems.error(_line(item, "email"), exc)
            continue
        if email.lower() in emails_seen:
            problems.add(line, f"{email} описано двічі", f"{email} is listed twice")
        emails_seen.add(email.lower())
        roles = [r for _, r in _strings(item.get("roles"), _line(item, "roles"), problems, "Ролі", "Roles")]
        wrong = [r for r in roles if r not in HROMADA_ROLES]
        if not roles or wrong:
            problems.add(_line(item, "roles"), f"Ролі: оберіть з {', '.join(HROMADA_ROLES)}"
                         + (f" (не {', '.join(wrong)})" if wrong else ""),
                         f"Roles: choose from {', '.join(HROMADA_ROLES)}"
                         + (f" (not {', '.join(wrong)})" if wrong else ""))
            continue
        codes = []
        for u_line, code in _strings(item.get("units"), _line(item, "units"), problems, "Підрозділи", "Units"):
            if known_unit(code, u_line):
                if code not in accounts_units:
                    problems.add(u_line, f"Підрозділ {code} не має облікових записів (лише ел. пошта)",
                                 f"Unit {code} has no staff accounts (e-mail only)")
                codes.append(code)
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            problems.add(_line(item, "name"), "Ім'я: текст до 200 знаків", "Name: text of 200 characters at most")
        want.staff.append((line, email, name, sorted(set(roles)), sorted(set(codes))))

    # What the file drops must be droppable.
    if want.units is not None:
        for code, reports in conn.execute(sa.text("""
                SELECT u.code, count(r.id) FROM unit u JOIN report r ON r.unit_id = u.id
                WHERE u.hromada_id = :h GROUP BY u.code"""), {"h": h}).all():
            if code not in want.units:
                problems.add(_line(root, "units"), f"Підрозділу {code} немає у файлі, але на нього записано звернень — "
                             f"{reports}: його не можна вилучити, залиште його у файлі",
                             f"Unit {code} is not in the file, but {reports} report(s) are assigned to it: it cannot "
                             "be deleted; keep it in the file")
    if want.local is not None:
        for code, reports in conn.execute(sa.text("""
                SELECT c.code, count(r.id) FROM category c JOIN report r ON r.category_id = c.id
                WHERE c.hromada_id = :h GROUP BY c.code"""), {"h": h}).all():
            if code not in want.local:
                problems.add(_line(categories, "local"), f"Власної категорії {code} немає у файлі, але її мають "
                             f"звернення ({reports}): залиште її (можна вимкнути в disabled)",
                             f"Local category {code} is not in the file, but {reports} report(s) have it: keep it "
                             "(it may be listed under disabled)")
    if problems:
        raise SetupFileInvalid(problems.items)
    return want


def _plain(value):
    """Plain dicts and lists (for GeoJSON)."""
    return json.loads(json.dumps(value))


def _same_area(a, b) -> bool:
    return a is not None and b is not None and a.hausdorff_distance(b) < setup.SAME_AREA_DEG


def _same_assignment(a: dict, b: dict) -> bool:
    if (a["category"], a["unit"], a["scope"]) != (b["category"], b["unit"], b["scope"]):
        return False
    if a["scope"] == "district":
        return a["district"] == b["district"]
    if a["scope"] == "villages":
        return a["villages"] == b["villages"]
    if a["scope"] == "area":
        return _same_area(a["area"], b["area"])
    return True


# --- the current state -------------------------------------------------------------------------------

def _current_assignments(conn: sa.Connection, h: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT uc.id, c.code AS category, u.code AS unit, uc.scope, d.code AS district, uc.settlement_ids,
               CASE WHEN uc.scope = 'area' THEN ST_AsBinary(uc.area) END AS area
        FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
        LEFT JOIN starosta_district d ON d.id = uc.district_id
        WHERE u.hromada_id = :h ORDER BY uc.id"""), {"h": h}).mappings()
    return [{"id": r["id"], "category": r["category"], "unit": r["unit"], "scope": r["scope"],
             "district": r["district"], "villages": sorted(r["settlement_ids"] or []),
             "area": shapely.from_wkb(bytes(r["area"])) if r["area"] is not None else None} for r in rows]


def _staff(conn: sa.Connection, h: int) -> dict[str, dict]:
    """Accounts holding roles in the hromada: lower-cased e-mail → {email, name, roles, units}."""
    rows = conn.execute(sa.text("""
        SELECT a.id, a.email, a.full_name, array_agg(DISTINCT g.role ORDER BY g.role) AS roles,
               ARRAY(SELECT u.code FROM staff_membership m JOIN unit u ON u.id = m.unit_id
                     WHERE m.user_id = a.id AND u.hromada_id = :h ORDER BY u.code) AS units
        FROM app_user a JOIN role_grant g ON g.user_id = a.id AND g.hromada_id = :h
        WHERE a.is_active GROUP BY a.id ORDER BY lower(a.email)"""), {"h": h}).mappings()
    return {r["email"].lower(): {"email": r["email"], "name": r["full_name"], "roles": list(r["roles"]),
                                 "units": list(r["units"])} for r in rows}


def _account_exists(conn: sa.Connection, email: str) -> bool:
    return conn.execute(sa.select(app_user.c.id).where(sa.func.lower(app_user.c.email) == email.lower())) \
        .first() is not None


def _where(a: dict, village_names: dict[int, str]) -> str:
    if a["scope"] == "district":
        return f"district {a['district']}"
    if a["scope"] == "villages":
        return "villages " + ", ".join(village_names.get(v, str(v)) for v in a["villages"])
    if a["scope"] == "area":
        return "an area on the map"
    return "the whole hromada"


def _show(value) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


# --- apply --------------------------------------------------------------------------------------------

def apply_setup(conn: sa.Connection, text: str, *, by: By, dry_run: bool = False,
                public_url: str | None = None) -> Diff:
    """Make the hromada's set-up what the file says; the changes made (on ``dry_run``: that would be
    made — nothing is kept). Every write goes through gis.hromada_setup (validated, audited).

    Raises SetupFileInvalid listing every problem (line, uk, en) — then nothing has changed. Runs in
    a savepoint of the caller's transaction. New staff get an invitation (gis.accounts.invite) with
    links to ``public_url`` (default HROMADA_PUBLIC_URL)."""
    want = _read(conn, text)
    h = want.hromada["id"]
    diff = Diff(want.hromada["katottg"], dry_run=dry_run)
    steps: list[tuple[int, object]] = []  # (line, callable) in the order they must run
    problems = _Problems()
    sections = want.section_lines
    village_names = {s["id"]: s["name_uk"] for s in setup.list_settlements(conn, h)}

    def step(line, fn):
        steps.append((line, fn))

    # Local categories first: assignments may name them.
    current_local = {c["code"]: c for c in setup.list_categories(conn, h) if c["local"]}
    if want.local is not None:
        names = {c["code"]: c for c in conn.execute(sa.text(
            "SELECT code, name_uk, name_en, target_days FROM category WHERE hromada_id = :h"), {"h": h}).mappings()}
        for code, (line, data) in want.local.items():
            old = names.get(code)
            if old is None:
                diff.lines.append(f"+ local category {code} ({data['name_uk']})")
            else:
                changed = {k: (old[k], data[k]) for k in ("name_uk", "name_en", "target_days") if old[k] != data[k]}
                if not changed:
                    continue
                diff.lines += [f"~ local category {code} {k}: {_show(a)} → {_show(b)}" for k, (a, b) in changed.items()]
            step(line, lambda data=data: setup.save_local_category(conn, h, data, by))

    # Units: added and changed now, removed at the end (after their assignments go).
    current_units = {u["code"]: u for u in setup.list_units(conn, h)}
    if want.units is not None:
        for code, (line, fields) in want.units.items():
            old = current_units.get(code)
            if old is None:
                diff.lines.append(f"+ unit {code} ({fields['name_uk']})")
            else:
                changed = {k: (old[k], v) for k, v in fields.items() if old[k] != v}
                if not changed:
                    continue
                diff.lines += [f"~ unit {code} {'notify' if k == 'notify_mode' else k}: {_show(a)} → {_show(b)}"
                               for k, (a, b) in changed.items()]
            step(line, lambda code=code, fields=fields: setup.save_unit(conn, h, {"code": code, **fields}, by))

    # Assignments the file no longer lists go before districts and units do.
    current_assignments = _current_assignments(conn, h)
    keep: set[int] = set()
    to_add: list[tuple[int, dict]] = []
    if want.assignments is not None:
        for line, key in want.assignments:
            match = next((a for a in current_assignments
                          if a["id"] not in keep and _same_assignment(key, a)), None)
            if match is not None:
                keep.add(match["id"])
            else:
                to_add.append((line, key))
        for a in current_assignments:
            if a["id"] not in keep:
                diff.lines.append(f"- assignment {a['category']} → {a['unit']} in {_where(a, village_names)}")
                step(sections.get("assignments"), lambda a=a: setup.delete_assignment(conn, h, a["id"], by))

    # Districts.
    current_districts = {d["code"]: d for d in setup.list_districts(conn, h)}
    if want.districts is not None:
        members = {}
        for sid, code in conn.execute(sa.text("""
                SELECT ds.settlement_id, d.code FROM district_settlement ds
                JOIN starosta_district d ON d.id = ds.district_id WHERE d.hromada_id = :h"""), {"h": h}).all():
            members.setdefault(code, []).append(sid)
        for code in current_districts:
            if code not in want.districts:
                diff.lines.append(f"- district {code}")
                step(sections.get("districts"), lambda code=code: setup.delete_district(conn, h, code, by))
        for code, (line, names, ids) in want.districts.items():
            old = current_districts.get(code)
            villages = [village_names[s] for s in ids]
            if old is None:
                diff.lines.append(f"+ district {code} ({names['name_uk']}): {_show(sorted(villages))}")
            else:
                changed = {k: (old[k], v) for k, v in names.items() if old[k] != v}
                if sorted(members.get(code, [])) != ids:
                    changed["villages"] = (sorted(old["settlements"]), sorted(villages))
                if not changed:
                    continue
                diff.lines += [f"~ district {code} {k}: {_show(a)} → {_show(b)}" for k, (a, b) in changed.items()]
            step(line, lambda code=code, names=names, ids=ids: setup.save_district(
                conn, h, {"code": code, **names, "settlements": ids}, by))

    # New assignments.
    for line, key in to_add:
        diff.lines.append(f"+ assignment {key['category']} → {key['unit']} in {_where(key, village_names)}")
        data = {"category": key["category"], "unit": key["unit"], "scope": key["scope"]}
        if key["scope"] == "district":
            data["district"] = key["district"]
        elif key["scope"] == "villages":
            data["villages"] = key["villages"]
        elif key["scope"] == "area":
            data["area"] = shapely.geometry.mapping(key["area"])
        step(line, lambda data=data: setup.add_assignment(conn, h, data, by))

    # Categories: on/off and own target times, for the catalogue and the hromada's own.
    if want.disabled is not None:
        current = {c["code"]: c for c in setup.list_categories(conn, h)}
        codes = [c for c in current if not current[c]["local"]] + list(
            want.local if want.local is not None else current_local)
        for code in codes:
            enabled = code not in want.disabled
            days = want.target_days.get(code)
            old = current.get(code)
            old_enabled, old_days = (old["enabled"], old["own_target_days"]) if old else (True, None)
            if (enabled, days) == (old_enabled, old_days):
                continue
            if enabled != old_enabled:
                diff.lines.append(f"~ category {code}: {'on' if enabled else 'off'}")
            if days != old_days:
                diff.lines.append(f"~ category {code} target_days: {_show(old_days)} → {_show(days)}")
            line = _line_of_category(want, code)
            step(line, lambda code=code, enabled=enabled, days=days: setup.set_category(
                conn, h, code, enabled=enabled, target_days=days, by=by))

    # Asset owners.
    if want.owners is not None:
        current = {(o["asset_kind"], o["owner_class"]): o["unit_code"] for o in setup.list_asset_owners(conn, h)}
        for key in sorted(set(current) | set(want.owners)):
            line, code = want.owners.get(key, (sections.get("asset_owners"), None))
            if current.get(key) == code:
                continue
            diff.lines.append(f"{'-' if code is None else '~'} asset owner {key[0]}/{key[1]}: "
                              f"{_show(current.get(key))} → {_show(code)}")
            step(line, lambda key=key, code=code: setup.set_asset_owner(conn, h, key[0], key[1], code, by))

    if want.default_unit is not None:
        line, code = want.default_unit
        old = setup.default_unit(conn, h)
        if (old["code"] if old else None) != code:
            diff.lines.append(f"~ default unit: {_show(old and old['code'])} → {_show(code)}")
            step(line, lambda code=code: setup.set_default_unit(conn, h, code, by))

    # Units no longer listed, then local categories no longer listed.
    if want.units is not None:
        for code in current_units:
            if code not in want.units:
                diff.lines.append(f"- unit {code} ({current_units[code]['name_uk']})")
                step(sections.get("units"), lambda code=code: setup.delete_unit(conn, h, code, by))
    if want.local is not None:
        for code in current_local:
            if code not in want.local:
                diff.lines.append(f"- local category {code}")
                step(sections.get("categories"), lambda code=code: setup.delete_local_category(conn, h, code, by))

    # Staff: invited (or given the missing roles and units); never removed by a file.
    staff = _staff(conn, h)
    for line, email, name, roles, units in want.staff:
        have = staff.get(email.lower())
        if have is not None and set(roles) <= set(have["roles"]) and set(units) <= set(have["units"]):
            continue
        diff.lines.append(f"+ staff {email}: {', '.join(roles)}" + (f" ({', '.join(units)})" if units else "")
                          + ("" if have or _account_exists(conn, email) else " — invitation"))
        step(line, lambda email=email, name=name, roles=roles, units=units: _invite(
            conn, h, email, name, roles, units, by, public_url))

    if want.enabled is not None and want.enabled != setup.is_enabled(conn, h):
        diff.lines.append(f"~ enabled: {'yes' if want.enabled else 'no'}")
        step(sections.get("enabled"), lambda: setup.set_enabled(conn, h, want.enabled, by))

    if not steps:
        return diff
    savepoint = conn.begin_nested()
    try:
        for line, fn in steps:
            try:
                fn()
            except HromadaError as exc:
                problems.error(line, exc)
        if problems:
            raise SetupFileInvalid(problems.items)
        record(conn, by, "setup.apply", hromada_id=h, object=want.hromada["katottg"],
               detail={"changes": len(diff.lines)})
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return diff


def _line_of_category(want: _Wanted, code: str) -> int | None:
    if want.local and code in want.local:
        return want.local[code][0]
    return want.section_lines.get("categories")


def _invite(conn, h, email, name, roles, units, by, public_url) -> None:
    from gis import accounts

    unit_ids = [conn.execute(sa.select(unit.c.id).where(unit.c.hromada_id == h, unit.c.code == c)).scalar_one()
                for c in units]
    accounts.invite(conn, email=email, roles=roles, hromada_id=h, unit_ids=unit_ids, by=by,
                    public_url=public_url or os.environ.get("HROMADA_PUBLIC_URL") or DEFAULT_PUBLIC_URL,
                    full_name=name)


# --- export -------------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)  # "- item" indented under its key


def _represent_list(dumper, data):
    # Short lists of plain values (e-mails, villages, GeoJSON coordinates) on one line.
    flow = all(not isinstance(v, dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


class _Flow(dict):
    """A short mapping written on one line: {category: pothole, unit: housing}."""


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def _dump(value) -> str:
    return yaml.dump(value, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110,
                     default_flow_style=False)


def export_setup(conn: sa.Connection, katottg: str) -> str:
    """The hromada's whole set-up as YAML (see the module's docstring); applying it back changes nothing."""
    place = hromadas.hromada_by_katottg(conn, katottg)
    h = place["id"]
    settlements = setup.list_settlements(conn, h)
    counts: dict[str, int] = {}
    for s in settlements:
        counts[s["name_uk"].casefold()] = counts.get(s["name_uk"].casefold(), 0) + 1
    # A village is named; two of the same name in one hromada are given by number.
    village = {s["id"]: (s["name_uk"] if counts[s["name_uk"].casefold()] == 1 else s["id"]) for s in settlements}
    default = setup.default_unit(conn, h)
    units = [{"code": u["code"], "name_uk": u["name_uk"], "name_en": u["name_en"], "kind": u["kind"],
              "emails": u["emails"], "phone": u["phone"], "has_accounts": u["has_accounts"],
              "notify": u["notify_mode"]} for u in sorted(setup.list_units(conn, h), key=lambda u: u["code"])]
    members: dict[str, list] = {}
    for s in settlements:
        if s["district_code"]:
            members.setdefault(s["district_code"], []).append(village[s["id"]])
    districts = [{"code": d["code"], "name_uk": d["name_uk"], "name_en": d["name_en"],
                  "villages": members.get(d["code"], [])}
                 for d in sorted(setup.list_districts(conn, h), key=lambda d: d["code"])]
    assignments = []
    for a in setup.list_assignments(conn, h):
        item = _Flow(category=a["category_code"], unit=a["unit_code"])
        if a["scope"] == "district":
            item["district"] = a["district_code"]
        elif a["scope"] == "villages":
            item["villages"] = [village[s] for s in a["settlement_ids"]]
        elif a["scope"] == "area":
            item = {**item, "area": a["area"]}  # a long one: on lines of its own
        assignments.append(item)
    cats = setup.list_categories(conn, h)
    local = [_Flow(code=c["code"], name_uk=c["name_uk"], name_en=c["name_en"], target_days=c["catalogue_target_days"])
             for c in cats if c["local"]]
    categories = {"disabled": [c["code"] for c in cats if not c["enabled"]],
                  "target_days": _Flow((c["code"], c["own_target_days"]) for c in cats
                                       if c["own_target_days"] is not None),
                  "local": local}
    owners: dict[str, dict] = {}
    for o in setup.list_asset_owners(conn, h):
        owners.setdefault(o["asset_kind"], _Flow())[o["owner_class"]] = o["unit_code"]
    staff = []
    for s in _staff(conn, h).values():
        item = _Flow(email=s["email"])
        if s["name"]:
            item["name"] = s["name"]
        item["roles"] = s["roles"]
        if s["units"]:
            item["units"] = s["units"]
        staff.append(item)

    parts = [
        f"# Налаштування громади: {place['name_uk']} ({place['katottg']})\n"
        f"# Set-up of the hromada: {place['name_en'] or place['name_uk']} ({place['katottg']})\n"
        "# Застосувати / apply: hromada setup apply FILE [--dry-run]\n"
        "# Розділ, якого немає у файлі, лишається як є; чого розділ більше не містить, те вилучається\n"
        "# (працівників файл лише запрошує, не вилучає).\n"
        "# A section left out stays as it is; what a section no longer lists is removed (staff are only\n"
        "# ever invited, never removed).\n",
        _dump({"hromada": place["katottg"], "name": place["name_uk"], "enabled": setup.is_enabled(conn, h),
               "default_unit": default["code"] if default else None}),
        "\n# Підрозділи / units. kind: department, enterprise, starosta_district, outside_body, other;\n"
        "# has_accounts: false — лише ел. пошта / e-mail only; notify: each | digest\n",
        _dump({"units": units}),
        "\n# Старостинські округи / starosta districts\n",
        _dump({"districts": districts}),
        "\n# Хто що обслуговує і де / who handles what, where: district, villages, area (GeoJSON)\n"
        "# або нічого — уся громада / or none — the whole hromada\n",
        _dump({"assignments": assignments}),
        "\n# Категорії / categories: вимкнені, власні строки (днів), власні категорії громади\n",
        _dump({"categories": categories}),
        "\n# Власники об'єктів / asset owners: state, regional, local, communal\n",
        _dump({"asset_owners": owners}),
        "\n# Працівники (запрошення) / staff (invitations): roles admin, unit_staff, planner\n",
        _dump({"staff": staff}),
    ]
    return "".join(parts)
