"""Reconstruction projects (issue #8), shaped after DREAM — Ukraine's Digital Restoration Ecosystem for
Accountable Management — so that a community shows on its own map how reconstruction money is spent.

**Geometry.** A layer has one geometry type, and a project may be a building (polygon), a water main
(line) or a well (point). The ``reconstruction_projects`` layer is therefore a **Point** layer — one
marker per project, so the generic API, OGC collection, clustered tiles, GeoPackage export and map all
work unchanged — and the project's real shape, when known, is kept in ``project_footprint`` (one row per
project, any of Point/LineString/Polygon and their Multi forms). A project given only a footprint gets
``ST_PointOnSurface`` of it as its point. The analytics page and the project page draw the footprints;
the dedicated GeoJSON export gives the footprint where there is one.

**Stages** (:data:`STAGES`), in order: damage recorded → idea → financing → design → procurement →
construction → commissioning. A project moves **forward only** (skipping stages is allowed — a
development project has no damage; an imported one may enter at design); any open project may be
**cancelled** or end **unsuccessful** (:data:`OUTCOMES`). Commissioning, cancelled and unsuccessful
close it: nothing moves after that. A refused move is a 409 with a message in Ukrainian and English;
every move is kept in ``project_stage`` (stage, when, note, who). The **status** is derived, as DREAM's
own statuses (``pending``/``active``/``complete``/``cancelled``/``unsuccessful``), by a generated column:

* ``pending`` (ініціація) — damage recorded, idea, financing;
* ``active`` (виконання) — design, procurement, construction;
* ``complete`` (успішно завершено) — commissioning;
* ``cancelled`` / ``unsuccessful`` — the outcome, whatever stage it was reached at.

**Money** is exact: UAH as ``numeric(16,2)`` (up to 10¹⁴ hryvnias) read as :class:`~decimal.Decimal`;
sums are done by PostgreSQL on numerics. The budget is a declared ``money`` field (layers.base), so maps,
APIs and exports carry it exactly like every other field. Funding is kept per
source (:data:`FUNDING_SOURCES`, DREAM's finance categories grouped) with *available* (committed),
*disbursed* and *spent*; a row must have spent ≤ disbursed ≤ available (refused with a 400 otherwise, and
a CHECK constraint guards every write path). Between funding and budget only **warnings** are given
(:func:`funding_summary`): a project may be under-funded for years, and money may be committed above a
budget that is being revised.

Prozorro tender ids (``UA-2024-05-14-001234-a``) are validated and link to
``https://prozorro.gov.ua/tender/<id>``; references to the register of damaged and destroyed property
(Реєстр пошкодженого та знищеного майна, РПМ; DREAM's ``UA-RDDP`` scheme) are kept as text. Photos per
stage go through :func:`gis.photos.store_photo` (EXIF, GPS included, stripped).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import sqlalchemy as sa

from gis.errors import Conflict, InvalidInput, NotFound
from gis.models import geometry, gist, metadata
from gis.money import CENT, BadAmount, format_money, parse_money
from gis.photos import store_photo
from layers.base import CategoryStyle, Field, Layer, Permissions, label
from layers.tables import build_table

# --- vocabularies ---------------------------------------------------------------------------------

STAGES = {
    "damage_recorded": {"uk": "пошкодження зафіксовано", "en": "damage recorded"},
    "idea": {"uk": "ідея", "en": "idea"},
    "financing": {"uk": "пошук фінансування", "en": "financing"},
    "design": {"uk": "проєктування", "en": "design"},
    "procurement": {"uk": "закупівля", "en": "procurement"},
    "construction": {"uk": "будівництво", "en": "construction"},
    "commissioning": {"uk": "введення в експлуатацію", "en": "commissioning"},
}
STAGE_ORDER = tuple(STAGES)
OUTCOMES = {
    "cancelled": {"uk": "скасовано", "en": "cancelled"},
    "unsuccessful": {"uk": "завершено неуспішно", "en": "unsuccessful"},
}
# DREAM's project statuses (codelist initiationStatuses) and which stages they cover.
STATUSES = {
    "pending": {"uk": "ініціація", "en": "initiation"},
    "active": {"uk": "виконання", "en": "in progress"},
    "complete": {"uk": "успішно завершено", "en": "completed"},
    "cancelled": {"uk": "скасовано", "en": "cancelled"},
    "unsuccessful": {"uk": "завершено неуспішно", "en": "unsuccessful"},
}
STATUS_OF_STAGE = {"damage_recorded": "pending", "idea": "pending", "financing": "pending", "design": "active",
                   "procurement": "active", "construction": "active", "commissioning": "complete"}
CLOSED_STAGES = frozenset({"commissioning"})
STAGE_COLOURS = {"damage_recorded": "#868e96", "idea": "#74c0fc", "financing": "#1c7ed6", "design": "#f59f00",
                 "procurement": "#e8590c", "construction": "#c2255c", "commissioning": "#2b8a3e"}
OUTCOME_COLOURS = {"cancelled": "#212529", "unsuccessful": "#5c3b1e"}

SECTORS = {  # grouped after the World Bank sector codes (WB-ECO) DREAM classifies projects with
    "education": {"uk": "освіта", "en": "education"},
    "health": {"uk": "охорона здоров'я", "en": "health"},
    "social": {"uk": "соціальний захист", "en": "social protection"},
    "housing": {"uk": "житло", "en": "housing"},
    "water": {"uk": "водопостачання, водовідведення, відходи", "en": "water, sanitation and waste"},
    "energy": {"uk": "енергетика, теплопостачання, освітлення", "en": "energy, heating and lighting"},
    "transport": {"uk": "дороги й транспорт", "en": "roads and transport"},
    "civil_protection": {"uk": "укриття й цивільний захист", "en": "shelters and civil protection"},
    "culture": {"uk": "культура й спорт", "en": "culture and sport"},
    "administration": {"uk": "адміністративні послуги, управління", "en": "public administration"},
    "ict": {"uk": "зв'язок та ІТ", "en": "communications and IT"},
    "other": {"uk": "інше", "en": "other"},
}
PROJECT_TYPES = {
    "new_construction": {"uk": "нове будівництво", "en": "new construction"},
    "reconstruction": {"uk": "реконструкція", "en": "reconstruction"},
    "capital_repair": {"uk": "капітальний ремонт", "en": "capital repair"},
    "current_repair": {"uk": "поточний ремонт", "en": "current repair"},
    "equipment": {"uk": "постачання обладнання", "en": "equipment"},
}
PURPOSES = {  # DREAM's purpose
    "restoration": {"uk": "відновлення", "en": "restoration"},
    "development": {"uk": "розвиток", "en": "development"},
}
FUNDING_SOURCES = {  # DREAM's finance categories (fundingSourceCategories), grouped for a hromada
    "local_budget": {"uk": "місцевий бюджет", "en": "local budget"},
    "state_subsidy": {"uk": "субвенції з державного бюджету", "en": "state subsidy"},
    "liquidation_fund": {"uk": "Фонд ліквідації наслідків збройної агресії", "en": "Liquidation Fund"},
    "united24": {"uk": "United24 (Фонд відновлення)", "en": "United24 (Recovery Fund)"},
    "state_budget": {"uk": "інші кошти державного бюджету", "en": "other state budget"},
    "international": {"uk": "міжнародні партнери", "en": "international partners"},
    "donors": {"uk": "донори, благодійники, приватні кошти", "en": "donors, charities and private funds"},
}
SOURCE_COLOURS = {"local_budget": "#1864ab", "state_subsidy": "#5f3dc4", "liquidation_fund": "#c92a2a",
                  "united24": "#0b7285", "state_budget": "#862e9c", "international": "#e67700", "donors": "#2b8a3e"}
EDITORS = frozenset({"admin", "planner"})

DREAM_ID = re.compile(r"^DREAM-UA-(\d{2})(\d{2})(\d{2})-([0-9A-F]{8})$")
PROZORRO_TENDER = re.compile(r"^UA-(\d{4})-(\d{2})-(\d{2})-(\d{6})-([a-z])$")
PROZORRO_URL = "https://prozorro.gov.ua/tender/{}"
TEXT_LIMIT = 5000


def normalise_dream_id(value) -> str:
    """A DREAM project id ``DREAM-UA-DDMMYY-XXXXXXXX`` (the date the project was registered and eight
    hexadecimal digits), upper-cased; InvalidInput says what is wrong."""
    text = str(value or "").strip().upper()
    match = DREAM_ID.match(text)
    bad = InvalidInput(f"Ідентифікатор DREAM «{value}» має бути у вигляді DREAM-UA-ДДММРР-XXXXXXXX "
                       "(8 шістнадцяткових цифр), наприклад DREAM-UA-120324-5F3A9C01",
                       f"DREAM id {value!r} must look like DREAM-UA-DDMMYY-XXXXXXXX (8 hex digits), "
                       "e.g. DREAM-UA-120324-5F3A9C01")
    if not match:
        raise bad
    day, month, year = (int(g) for g in match.groups()[:3])
    try:
        dt.date(2000 + year, month, day)
    except ValueError:
        raise bad from None
    return text


def _dream_id_check(value) -> dict | None:
    try:
        normalise_dream_id(value)
    except InvalidInput as exc:
        return {"uk": exc.uk, "en": exc.en}
    return None


def normalise_tender_id(value) -> str:
    """A Prozorro tender id ``UA-YYYY-MM-DD-NNNNNN-a`` (a real date; the last letter lower case)."""
    text = str(value or "").strip()
    text = text[:-1] + text[-1:].lower() if text else text
    text = "UA" + text[2:] if text[:2].upper() == "UA" else text
    match = PROZORRO_TENDER.match(text)
    bad = InvalidInput(f"Номер закупівлі Prozorro «{value}» має бути у вигляді UA-РРРР-ММ-ДД-NNNNNN-a",
                       f"Prozorro tender id {value!r} must look like UA-YYYY-MM-DD-NNNNNN-a")
    if not match:
        raise bad
    try:
        dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise bad from None
    return text


def tender_url(tender_id: str) -> str:
    return PROZORRO_URL.format(tender_id)


def money(value, what: tuple[str, str] = ("сума", "amount")) -> Decimal:
    """An amount in UAH as an exact Decimal (gis.money.parse_money); InvalidInput naming ``what``."""
    try:
        return parse_money(value)
    except BadAmount as exc:
        raise InvalidInput(f"{what[0]}: {exc.uk}", f"{what[1]}: {exc.en}") from None


def format_uah(value, lang: str = "uk") -> str:
    """To the kopeck in the language's way (Babel, webmap.i18n.format_money): ``1 234 567,89 ₴`` in
    Ukrainian, ``UAH 1,234,567.89`` in English (no-break spaces)."""
    return format_money(None if value is None else Decimal(value).quantize(CENT), "UAH", lang)


def share(part, whole) -> float | None:
    """part / whole as a float in 0…(anything), None when the whole is zero."""
    return float(Decimal(part) / Decimal(whole)) if whole else None


# --- the layer ------------------------------------------------------------------------------------

STATUS_SQL = ("CASE WHEN outcome IS NOT NULL THEN outcome WHEN stage = 'commissioning' THEN 'complete' "
              "WHEN stage IN ('design', 'procurement', 'construction') THEN 'active' ELSE 'pending' END")

PROJECTS = Layer(
    name="reconstruction_projects",
    title={"uk": "Проєкти відновлення", "en": "Reconstruction projects"},
    description={"uk": "Проєкти відновлення й розвитку громади на шталт DREAM: етап, статус, сектор, кошторис, "
                       "відповідальний підрозділ",
                 "en": "The community's reconstruction and development projects, DREAM-style: stage, status, "
                       "sector, budget, responsible unit"},
    geometry="Point",
    table="reconstruction_project",
    generated_table=True,
    fields=(
        Field("dream_id", "text", {"uk": "Ідентифікатор DREAM", "en": "DREAM id"},
              aliases=("dream", "код DREAM", "DREAM code"), check=_dream_id_check),
        Field("title_uk", "text", {"uk": "Назва", "en": "Title (Ukrainian)"}, required=True,
              aliases=("назва", "title", "name")),
        Field("title_en", "text", {"uk": "Назва англійською", "en": "Title"}, aliases=("title:en",)),
        Field("sector", "choice", {"uk": "Сектор", "en": "Sector"}, required=True, choices=SECTORS,
              aliases=("сектор", "галузь")),
        Field("project_type", "choice", {"uk": "Вид робіт", "en": "Type of works"}, choices=PROJECT_TYPES,
              aliases=("вид", "тип", "type")),
        Field("purpose", "choice", {"uk": "Мета", "en": "Purpose"}, choices=PURPOSES, aliases=("мета",)),
        Field("stage", "choice", {"uk": "Етап", "en": "Stage"}, required=True, choices=STAGES, aliases=("етап",)),
        Field("outcome", "choice", {"uk": "Закрито як", "en": "Closed as"}, choices=OUTCOMES),
        Field("status", "choice", {"uk": "Статус", "en": "Status"}, choices=STATUSES, computed=STATUS_SQL),
        Field("status_detail", "text", {"uk": "Деталі статусу", "en": "Status detail"},
              aliases=("statusDetails", "деталі статусу")),
        Field("budget", "money", {"uk": "Кошторис, грн", "en": "Budget, UAH"}, required=True,
              aliases=("кошторис", "budget_uah", "вартість")),
        Field("responsible_unit_id", "unit", {"uk": "Відповідальний підрозділ", "en": "Responsible unit"}),
        Field("implementer", "text", {"uk": "Замовник, виконавець", "en": "Client, implementer"},
              aliases=("замовник", "виконавець")),
        Field("address", "text", {"uk": "Адреса", "en": "Address"}, aliases=("адреса",)),
        Field("description", "text", {"uk": "Опис", "en": "Description"}, aliases=("опис",)),
    ),
    popup=("title_uk", "stage", "status", "sector", "responsible_unit_id"),
    label_field="title_uk",
    style=CategoryStyle(field="stage", colors=STAGE_COLOURS, fill_opacity=0.85),
    permissions=Permissions(edit=EDITORS),
    licence="CC BY 4.0",
    source="Громада; DREAM (dream.gov.ua), відкриті дані",
)

project_table = build_table(PROJECTS)
if "budget_not_negative" not in {c.name for c in project_table.constraints}:
    project_table.append_constraint(sa.CheckConstraint("budget >= 0", name="budget_not_negative"))
    project_table.append_constraint(sa.CheckConstraint(
        f"stage IN {tuple(STAGES)}", name="stage_known"))
    project_table.append_constraint(sa.CheckConstraint(
        f"outcome IS NULL OR outcome IN {tuple(OUTCOMES)}", name="outcome_known"))
    sa.Index("uq_reconstruction_project_dream_id", project_table.c.dream_id, unique=True,
             postgresql_where=project_table.c.dream_id.is_not(None))

project_footprint = sa.Table(
    "project_footprint", metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("geom", geometry("GEOMETRY"), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOINT', 'LINESTRING', 'MULTILINESTRING', "
                       "'POLYGON', 'MULTIPOLYGON')", name="simple_kinds"),
    gist("project_footprint", "geom"),
)

project_stage = sa.Table(
    "project_stage", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("stage", sa.Text, nullable=False),  # a stage, or the outcome that closed the project
    sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("by_name", sa.Text),  # shown publicly: a unit, "імпорт DREAM", … — never an e-mail
    sa.Column("by_user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("source", sa.Text, nullable=False, server_default="manual"),  # manual, dream, demo
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"stage IN {tuple(STAGES) + tuple(OUTCOMES)}", name="stage_known"),
    sa.Index("ix_project_stage_project_id", "project_id"),
)

project_funding = sa.Table(
    "project_funding", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("party", sa.Text),  # who gives it: a donor's or a fund's name
    sa.Column("available", sa.Numeric(16, 2), nullable=False, server_default="0"),  # committed, confirmed
    sa.Column("disbursed", sa.Numeric(16, 2), nullable=False, server_default="0"),  # transferred
    sa.Column("spent", sa.Numeric(16, 2), nullable=False, server_default="0"),  # paid out for works
    sa.Column("dream_ref", sa.Text),  # DREAM finance[].id (the re-import key) or category
    sa.Column("note", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"source IN {tuple(FUNDING_SOURCES)}", name="source_known"),
    sa.CheckConstraint("spent >= 0 AND spent <= disbursed AND disbursed <= available", name="amounts_ordered"),
    sa.UniqueConstraint("project_id", "dream_ref"),
    sa.Index("ix_project_funding_project_id", "project_id"),
)

project_tender = sa.Table(
    "project_tender", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("tender_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("amount", sa.Numeric(16, 2)),
    sa.CheckConstraint(f"tender_id ~ '{PROZORRO_TENDER.pattern}'", name="prozorro_id"),
    sa.UniqueConstraint("project_id", "tender_id"),
)

project_damage_ref = sa.Table(
    "project_damage_ref", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("ref", sa.Text, nullable=False),  # the register's own id, kept as given
    sa.Column("note", sa.Text),
    sa.UniqueConstraint("project_id", "ref"),
)

project_photo = sa.Table(
    "project_photo", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("reconstruction_project.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("caption", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("taken_on", sa.Date),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG, EXIF stripped, ≤ 2048 px
    sa.Column("thumb", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"stage IN {tuple(STAGES) + tuple(OUTCOMES)}", name="stage_known"),
    sa.UniqueConstraint("project_id", "position"),
)

LAYERS = (PROJECTS,)


# --- checks on plain values ------------------------------------------------------------------------

def _text(value, limit: int = TEXT_LIMIT) -> str | None:
    text = re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""
    if "\x00" in text:
        raise InvalidInput("Текст містить недопустимий символ", "The text contains a character that is not allowed")
    if len(text) > limit:
        raise InvalidInput(f"Текст задовгий: до {limit} знаків", f"The text is too long: at most {limit} characters")
    return text or None


def _code(value, allowed: dict, what: tuple[str, str], required: bool = True) -> str | None:
    """A code of ``allowed`` given by its code or its label in either language."""
    if value in (None, ""):
        if required:
            raise InvalidInput(f"{what[0]}: обов'язкове", f"{what[1]}: required")
        return None
    text = str(value).strip().lower()
    for code, labels in allowed.items():
        if text == code.lower() or text in (v.lower() for v in labels.values()):
            return code
    raise InvalidInput(f"{what[0]}: невідоме значення «{value}»; можливі: {', '.join(allowed)}",
                       f"{what[1]}: unknown value {value!r}; allowed: {', '.join(allowed)}")


def stage_label(code: str | None, lang: str) -> str:
    if code in STAGES:
        return label(STAGES[code], lang)
    if code in OUTCOMES:
        return label(OUTCOMES[code], lang)
    return code or "—"


def _moment(value, what=("дата", "date")) -> dt.datetime:
    """A date or date-time (ISO text, date, datetime) as an aware datetime; not in the future."""
    if value is None or value == "":
        return dt.datetime.now(dt.timezone.utc)
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(12), tzinfo=dt.timezone.utc)
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{what[0]}: «{value}» — не дата (РРРР-ММ-ДД)",
                               f"{what[1]}: {value!r} is not a date (YYYY-MM-DD)") from None
        if len(str(value).strip()) == 10:
            moment = moment.replace(hour=12)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    if moment > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1):
        raise InvalidInput(f"{what[0]}: дата в майбутньому", f"{what[1]}: the date is in the future")
    if moment.year < 2014:
        raise InvalidInput(f"{what[0]}: дата раніше 2014 року", f"{what[1]}: the date is before 2014")
    return moment


def _place(geojson: dict | None, lon, lat):
    """(footprint, point) as SQL expressions from a GeoJSON geometry and/or lon/lat; the point defaults to
    the footprint's point on surface. InvalidInput for anything else or a point outside Ukraine."""
    import json

    footprint = None
    if geojson is not None:
        if not isinstance(geojson, dict) or geojson.get("type") not in (
                "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"):
            raise InvalidInput("Форма проєкту: очікується геометрія GeoJSON (точка, лінія чи полігон)",
                               "Project footprint: a GeoJSON geometry (point, line or polygon) is expected")
        footprint = sa.func.ST_MakeValid(sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(json.dumps(geojson)), 4326))
    if lon is not None and lat is not None:
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            raise InvalidInput("Координати мають бути числами", "Coordinates must be numbers") from None
        if not (22.0 <= x <= 40.5 and 44.0 <= y <= 52.5):
            raise InvalidInput("Точка поза межами України (довгота 22…40,5, широта 44…52,5)",
                               "The point is outside Ukraine (longitude 22…40.5, latitude 44…52.5)")
        return footprint, sa.func.ST_SetSRID(sa.func.ST_MakePoint(x, y), 4326)
    if footprint is None:
        raise InvalidInput("Потрібне місце проєкту: координати або форма",
                           "The project needs a place: coordinates or a footprint")
    return footprint, sa.func.ST_PointOnSurface(footprint)


# --- projects --------------------------------------------------------------------------------------

def create_project(conn: sa.Connection, hromada_id: int, *, title_uk: str, sector: str, stage: str = "idea",
                   lon: float | None = None, lat: float | None = None, footprint: dict | None = None,
                   title_en: str | None = None, project_type: str | None = None, purpose: str | None = None,
                   status_detail: str | None = None, budget=0, responsible_unit_id: int | None = None,
                   implementer: str | None = None, address: str | None = None, description: str | None = None,
                   dream_id: str | None = None, entered_at=None, note: str | None = None, by: str | None = None,
                   user_id: int | None = None, source: str = "manual", is_demo: bool = False,
                   raw: dict | None = None) -> int:
    """Add a project at ``stage`` (its first history entry, at ``entered_at``); returns its id.

    The place is a point (``lon``/``lat``) or a GeoJSON ``footprint`` (point, line, polygon; its point on
    surface becomes the marker), or both. InvalidInput for an unknown sector/stage/type, a bad DREAM id, a
    place outside Ukraine or a negative budget; Conflict (409) for a DREAM id already in use."""
    title = _text(title_uk, 500)
    if not title:
        raise InvalidInput("Назва проєкту обов'язкова", "The project's title is required")
    stage = _code(stage, STAGES, ("етап", "stage"))
    values = dict(
        hromada_id=hromada_id, title_uk=title, title_en=_text(title_en, 500),
        sector=_code(sector, SECTORS, ("сектор", "sector")),
        project_type=_code(project_type, PROJECT_TYPES, ("вид робіт", "type of works"), required=False),
        purpose=_code(purpose, PURPOSES, ("мета", "purpose"), required=False),
        stage=stage, status_detail=_text(status_detail, 100), budget=money(budget or 0, ("кошторис", "budget")),
        implementer=_text(implementer, 500), address=_text(address, 500), description=_text(description),
        dream_id=normalise_dream_id(dream_id) if dream_id else None, source=source, is_demo=is_demo,
        raw=raw or {})
    if responsible_unit_id is not None:
        values["responsible_unit_id"] = _unit_of(conn, hromada_id, responsible_unit_id)
    if values["dream_id"] and conn.execute(sa.select(project_table.c.id).where(
            project_table.c.dream_id == values["dream_id"])).first():
        raise Conflict(f"Проєкт {values['dream_id']} уже є", f"Project {values['dream_id']} already exists")
    footprint_sql, point_sql = _place(footprint, lon, lat)
    moment = _moment(entered_at)
    project_id = conn.execute(project_table.insert().values(**values, geom=point_sql)
                              .returning(project_table.c.id)).scalar_one()
    if footprint_sql is not None:
        conn.execute(project_footprint.insert().values(project_id=project_id, geom=footprint_sql))
    conn.execute(project_stage.insert().values(project_id=project_id, stage=stage, entered_at=moment,
                                               note=_text(note), by_name=_text(by, 200), by_user_id=user_id,
                                               source=source))
    return project_id


def _unit_of(conn: sa.Connection, hromada_id: int, unit_id) -> int:
    found = conn.execute(sa.text("SELECT id FROM unit WHERE id = :u AND hromada_id = :h"),
                         {"u": unit_id, "h": hromada_id}).scalar()
    if found is None:
        raise InvalidInput(f"Підрозділ {unit_id} не належить цій громаді", f"Unit {unit_id} is not of this hromada")
    return found


def _locked(conn: sa.Connection, project_id: int) -> sa.RowMapping:
    row = conn.execute(sa.text("SELECT id, stage, outcome, budget, hromada_id FROM reconstruction_project "
                               "WHERE id = :id FOR UPDATE"), {"id": project_id}).mappings().first()
    if row is None:
        raise NotFound(f"Проєкт {project_id} не знайдено", f"Project {project_id} not found")
    return row


def allowed_moves(stage: str, outcome: str | None) -> list[str]:
    """Where a project at ``stage`` may go: the later stages, then the outcomes; nothing once closed."""
    if outcome is not None or stage in CLOSED_STAGES:
        return []
    return [*STAGE_ORDER[STAGE_ORDER.index(stage) + 1:], *OUTCOMES]


def set_stage(conn: sa.Connection, project_id: int, stage: str, *, at=None, note: str | None = None,
              by: str | None = None, user_id: int | None = None, source: str = "manual") -> dict:
    """Move the project to a later ``stage``, or close it as ``cancelled``/``unsuccessful``; the move is
    kept in the history. Returns ``{"stage", "outcome", "status"}``.

    InvalidInput (400): an unknown stage, or a date in the future or before the previous move.
    Conflict (409): the project is closed, is already at that stage, or the stage is an earlier one."""
    target = _code(stage, {**STAGES, **OUTCOMES}, ("етап", "stage"))
    row = _locked(conn, project_id)
    current, outcome = row["stage"], row["outcome"]
    if outcome is not None or current in CLOSED_STAGES:
        closed = stage_label(outcome or current, "uk"), stage_label(outcome or current, "en")
        raise Conflict(f"Проєкт закрито ({closed[0]}): етап уже не змінюється",
                       f"The project is closed ({closed[1]}): its stage can no longer change")
    if target == current:
        raise Conflict(f"Проєкт уже на етапі «{stage_label(target, 'uk')}»",
                       f"The project is already at the stage “{stage_label(target, 'en')}”")
    if target in STAGES and STAGE_ORDER.index(target) < STAGE_ORDER.index(current):
        raise Conflict(f"Етап «{stage_label(target, 'uk')}» передує поточному «{stage_label(current, 'uk')}»: "
                       "назад проєкт не повертається",
                       f"The stage “{stage_label(target, 'en')}” "
                       f"comes before the current “{stage_label(current, 'en')}”: "
                       "a project does not go back")
    moment = _moment(at)
    last = conn.execute(sa.select(sa.func.max(project_stage.c.entered_at))
                        .where(project_stage.c.project_id == project_id)).scalar()
    if last is not None and moment < last:
        raise InvalidInput(f"Дата {moment:%Y-%m-%d} раніша за попередній етап ({last:%Y-%m-%d})",
                           f"The date {moment:%Y-%m-%d} is before the previous stage ({last:%Y-%m-%d})")
    if target in OUTCOMES:
        conn.execute(sa.text("UPDATE reconstruction_project SET outcome = :o WHERE id = :id"),
                     {"o": target, "id": project_id})
    else:
        conn.execute(sa.text("UPDATE reconstruction_project SET stage = :s WHERE id = :id"),
                     {"s": target, "id": project_id})
    conn.execute(project_stage.insert().values(project_id=project_id, stage=target, entered_at=moment,
                                               note=_text(note), by_name=_text(by, 200), by_user_id=user_id,
                                               source=source))
    return dict(conn.execute(sa.text("SELECT stage, outcome, status FROM reconstruction_project WHERE id = :id"),
                             {"id": project_id}).mappings().one())


def advance_stage(conn: sa.Connection, project_id: int, **kwargs) -> dict:
    """Move the project to the next stage (see :func:`set_stage` for the refusals)."""
    row = _locked(conn, project_id)
    index = STAGE_ORDER.index(row["stage"])
    if row["outcome"] is not None or index + 1 >= len(STAGE_ORDER):
        return set_stage(conn, project_id, row["stage"], **kwargs)  # refused with the right message
    return set_stage(conn, project_id, STAGE_ORDER[index + 1], **kwargs)


def set_budget(conn: sa.Connection, project_id: int, budget) -> Decimal:
    _locked(conn, project_id)
    amount = money(budget, ("кошторис", "budget"))
    conn.execute(sa.text("UPDATE reconstruction_project SET budget = :b WHERE id = :id"),
                 {"b": amount, "id": project_id})
    return amount


# --- funding ---------------------------------------------------------------------------------------

def check_amounts(available, disbursed, spent) -> tuple[Decimal, Decimal, Decimal]:
    a = money(available, ("доступно", "available"))
    d = money(disbursed or 0, ("перераховано", "disbursed"))
    s = money(spent or 0, ("витрачено", "spent"))
    if d > a:
        raise InvalidInput(f"Перераховано ({format_uah(d)}) більше, ніж доступно ({format_uah(a)})",
                           f"Disbursed ({format_uah(d, 'en')}) exceeds available ({format_uah(a, 'en')})")
    if s > d:
        raise InvalidInput(f"Витрачено ({format_uah(s)}) більше, ніж перераховано ({format_uah(d)})",
                           f"Spent ({format_uah(s, 'en')}) exceeds disbursed ({format_uah(d, 'en')})")
    return a, d, s


def add_funding(conn: sa.Connection, project_id: int, source: str, available, disbursed=0, spent=0, *,
                party: str | None = None, note: str | None = None, dream_ref: str | None = None) -> int:
    """Add one funding line (a source, optionally who gives it); returns its id.
    InvalidInput: unknown source, bad amounts, spent > disbursed or disbursed > available."""
    _locked(conn, project_id)
    a, d, s = check_amounts(available, disbursed, spent)
    return conn.execute(project_funding.insert().values(
        project_id=project_id, source=_code(source, FUNDING_SOURCES, ("джерело", "source")),
        party=_text(party, 300), available=a, disbursed=d, spent=s, note=_text(note), dream_ref=dream_ref)
        .returning(project_funding.c.id)).scalar_one()


def update_funding(conn: sa.Connection, funding_id: int, *, available, disbursed=0, spent=0,
                   note: str | None = None, project_id: int | None = None) -> None:
    """New amounts for a funding line (the same checks as :func:`add_funding`)."""
    query = sa.select(project_funding.c.project_id).where(project_funding.c.id == funding_id)
    owner = conn.execute(query).scalar()
    if owner is None or (project_id is not None and owner != project_id):
        raise NotFound(f"Рядок фінансування {funding_id} не знайдено", f"Funding line {funding_id} not found")
    _locked(conn, owner)
    a, d, s = check_amounts(available, disbursed, spent)
    conn.execute(project_funding.update().where(project_funding.c.id == funding_id).values(
        available=a, disbursed=d, spent=s, note=_text(note), updated_at=sa.func.now()))


def funding_summary(conn: sa.Connection, project_id: int) -> dict:
    """Sums per source and in total (exact Decimals), the budget, and warnings in both languages:
    funding below or above the budget, spending above the budget."""
    budget = conn.execute(sa.text("SELECT budget FROM reconstruction_project WHERE id = :id"),
                          {"id": project_id}).scalar()
    if budget is None:
        raise NotFound(f"Проєкт {project_id} не знайдено", f"Project {project_id} not found")
    rows = conn.execute(sa.text("""
        SELECT source, sum(available) AS available, sum(disbursed) AS disbursed, sum(spent) AS spent,
               count(*) AS lines, string_agg(DISTINCT party, '; ') AS parties
        FROM project_funding WHERE project_id = :id GROUP BY source"""), {"id": project_id}).mappings()
    by_source = {r["source"]: dict(r) for r in rows}
    ordered = [{"source": s, **by_source[s]} for s in FUNDING_SOURCES if s in by_source]
    total = {k: sum((r[k] for r in ordered), Decimal("0.00")) for k in ("available", "disbursed", "spent")}
    warnings = []
    if budget and total["available"] < budget:
        gap = budget - total["available"]
        warnings.append({"code": "underfunded", "uk": f"Не вистачає фінансування: {format_uah(gap, 'uk')}",
                         "en": f"Funding gap: {format_uah(gap, 'en')}"})
    if budget and total["available"] > budget:
        warnings.append({"code": "over_budget_funding",
                         "uk": "Підтверджене фінансування перевищує кошторис",
                         "en": "Confirmed funding exceeds the budget"})
    if budget and total["spent"] > budget:
        warnings.append({"code": "overspent", "uk": "Витрачено більше за кошторис",
                         "en": "More has been spent than the budget"})
    return {"budget": budget, "by_source": ordered, "total": total,
            "spent_share": share(total["spent"], budget), "warnings": warnings}


def funding_lines(conn: sa.Connection, project_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.select(
        project_funding.c.id, project_funding.c.source, project_funding.c.party, project_funding.c.available,
        project_funding.c.disbursed, project_funding.c.spent, project_funding.c.note)
        .where(project_funding.c.project_id == project_id)
        .order_by(project_funding.c.source, project_funding.c.id)).mappings()]


# --- tenders, damage references, photos ---------------------------------------------------------------

def add_tender(conn: sa.Connection, project_id: int, tender_id: str, *, title: str | None = None,
               status: str | None = None, amount=None) -> str:
    """Link a Prozorro tender (validated id); adding one twice changes nothing. Returns the id."""
    _locked(conn, project_id)
    tid = normalise_tender_id(tender_id)
    conn.execute(sa.text("""
        INSERT INTO project_tender (project_id, tender_id, title, status, amount)
        VALUES (:p, :t, :title, :status, :amount)
        ON CONFLICT (project_id, tender_id) DO UPDATE
        SET title = COALESCE(EXCLUDED.title, project_tender.title),
            status = COALESCE(EXCLUDED.status, project_tender.status),
            amount = COALESCE(EXCLUDED.amount, project_tender.amount)"""),
        {"p": project_id, "t": tid, "title": _text(title, 1000), "status": _text(status, 50),
         "amount": money(amount) if amount not in (None, "") else None})
    return tid


def add_damage_ref(conn: sa.Connection, project_id: int, ref: str, note: str | None = None) -> str:
    """Reference a record of the register of damaged and destroyed property (kept as given)."""
    _locked(conn, project_id)
    text = _text(ref, 100)
    if not text:
        raise InvalidInput("Потрібен номер запису в реєстрі пошкодженого майна",
                           "A record number of the damaged property register is needed")
    conn.execute(sa.text("INSERT INTO project_damage_ref (project_id, ref, note) VALUES (:p, :r, :n) "
                         "ON CONFLICT (project_id, ref) DO NOTHING"), {"p": project_id, "r": text, "n": _text(note)})
    return text


MAX_PROJECT_PHOTOS = 40


def add_photo(conn: sa.Connection, project_id: int, stage: str, data: bytes, *, name: str = "photo",
              caption: str | None = None, author: str | None = None, taken_on=None) -> int:
    """Clean one photo (EXIF stripped) and attach it to one stage of the project; returns its id."""
    _locked(conn, project_id)
    stage = _code(stage, {**STAGES, **OUTCOMES}, ("етап", "stage"))
    if conn.execute(sa.select(project_stage.c.id).where(project_stage.c.project_id == project_id,
                                                        project_stage.c.stage == stage)).first() is None:
        raise InvalidInput(f"Проєкт не проходив етап «{stage_label(stage, 'uk')}»",
                           f"The project has not been through the stage “{stage_label(stage, 'en')}”")
    return store_photo(conn, project_photo, "project_id", project_id, data, name=name, limit=MAX_PROJECT_PHOTOS,
                       stage=stage, caption=_text(caption, 500), author=_text(author, 200),
                       taken_on=_moment(taken_on).date() if taken_on else None)


def photo_bytes(conn: sa.Connection, photo_id: int, thumb: bool = False) -> bytes:
    column = project_photo.c.thumb if thumb else project_photo.c.data
    data = conn.execute(sa.select(column).where(project_photo.c.id == photo_id)).scalar()
    if data is None:
        raise NotFound(f"Фото {photo_id} не знайдено", f"Photo {photo_id} not found")
    return bytes(data)


# --- reading ---------------------------------------------------------------------------------------

def find_project(conn: sa.Connection, key: str | int) -> int:
    """A project's id from its id or its DREAM id; NotFound otherwise."""
    text = str(key).strip()
    if text.isascii() and text.isdigit() and len(text) < 10:
        found = conn.execute(sa.select(project_table.c.id).where(project_table.c.id == int(text))).scalar()
    elif text.upper().startswith("DREAM-"):
        found = conn.execute(sa.select(project_table.c.id)
                             .where(project_table.c.dream_id == text.upper())).scalar()
    else:
        found = None
    if found is None:
        raise NotFound(f"Проєкт «{text[:60]}» не знайдено", f"Project {text[:60]!r} not found")
    return found


def project_hromada_id(conn: sa.Connection, key: str | int) -> int:
    """The id of the hromada of the project with this id or DREAM id; NotFound otherwise."""
    project_id = find_project(conn, key)
    return conn.execute(sa.select(project_table.c.hromada_id).where(project_table.c.id == project_id)).scalar_one()


def project(conn: sa.Connection, project_id: int) -> dict:
    """One project: public fields, place, footprint (GeoJSON), history, funding, tenders, damage
    references, photos (no bytes) and the hromada's code."""
    import json

    row = conn.execute(sa.text("""
        SELECT p.*, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, h.katottg, h.name_uk AS hromada_uk,
               h.name_en AS hromada_en, u.name_uk AS unit_uk, u.name_en AS unit_en,
               ST_AsGeoJSON(f.geom, 6) AS footprint
        FROM reconstruction_project p LEFT JOIN hromada h ON h.id = p.hromada_id
        LEFT JOIN unit u ON u.id = p.responsible_unit_id
        LEFT JOIN project_footprint f ON f.project_id = p.id WHERE p.id = :id"""),
        {"id": project_id}).mappings().first()
    if row is None:
        raise NotFound(f"Проєкт {project_id} не знайдено", f"Project {project_id} not found")
    out = {f.name: row[f.column_name] for f in PROJECTS.public_fields}
    out.update(id=row["id"], lon=row["lon"], lat=row["lat"], katottg=row["katottg"], hromada_uk=row["hromada_uk"],
               hromada_en=row["hromada_en"], unit_uk=row["unit_uk"], unit_en=row["unit_en"], budget=row["budget"],
               footprint=json.loads(row["footprint"]) if row["footprint"] else None, is_demo=row["is_demo"],
               source=row["source"])
    out["history"] = history(conn, project_id)
    out["funding"] = funding_summary(conn, project_id)
    out["funding_lines"] = funding_lines(conn, project_id)
    out["tenders"] = [{**dict(r), "url": tender_url(r["tender_id"])} for r in conn.execute(sa.select(
        project_tender.c.tender_id, project_tender.c.title, project_tender.c.status, project_tender.c.amount)
        .where(project_tender.c.project_id == project_id).order_by(project_tender.c.tender_id)).mappings()]
    out["damage_refs"] = [dict(r) for r in conn.execute(sa.select(project_damage_ref.c.ref, project_damage_ref.c.note)
                          .where(project_damage_ref.c.project_id == project_id)
                          .order_by(project_damage_ref.c.ref)).mappings()]
    out["photos"] = [dict(r) for r in conn.execute(sa.select(
        project_photo.c.id, project_photo.c.stage, project_photo.c.position, project_photo.c.caption,
        project_photo.c.author, project_photo.c.taken_on, project_photo.c.width, project_photo.c.height)
        .where(project_photo.c.project_id == project_id).order_by(project_photo.c.position)).mappings()]
    out["moves"] = allowed_moves(row["stage"], row["outcome"])
    return out


def history(conn: sa.Connection, project_id: int) -> list[dict]:
    """The project's stages in the order they were entered (public: no user ids)."""
    return [dict(r) for r in conn.execute(sa.select(
        project_stage.c.id, project_stage.c.stage, project_stage.c.entered_at, project_stage.c.note,
        project_stage.c.by_name, project_stage.c.source)
        .where(project_stage.c.project_id == project_id)
        .order_by(project_stage.c.entered_at, project_stage.c.id)).mappings()]


def footprints_in_hromada(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The lines and polygons (not points) of the hromada's projects that have one: the project's id,
    titles, stage and outcome, and the shape as a GeoJSON dict (``geometry``)."""
    import json

    rows = conn.execute(sa.text("""
        SELECT p.id, p.title_uk, p.title_en, p.stage, p.outcome, ST_AsGeoJSON(f.geom, 6) AS geometry
        FROM project_footprint f JOIN reconstruction_project p ON p.id = f.project_id
        WHERE p.hromada_id = :h AND GeometryType(f.geom) NOT IN ('POINT', 'MULTIPOINT')"""),
        {"h": hromada_id}).mappings()
    return [{**r, "geometry": json.loads(r["geometry"])} for r in rows]


def projects_in_hromada(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The hromada's projects with their money (exact), by stage then title."""
    order = ", ".join(f"'{s}'" for s in STAGE_ORDER)
    rows = conn.execute(sa.text(f"""
        SELECT p.id, p.dream_id, p.title_uk, p.title_en, p.sector, p.project_type, p.stage, p.outcome, p.status,
               p.budget, p.is_demo, p.responsible_unit_id, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
               COALESCE(f.available, 0) AS available, COALESCE(f.disbursed, 0) AS disbursed,
               COALESCE(f.spent, 0) AS spent,
               (SELECT max(entered_at) FROM project_stage s WHERE s.project_id = p.id) AS last_move
        FROM reconstruction_project p
        LEFT JOIN (SELECT project_id, sum(available) AS available, sum(disbursed) AS disbursed, sum(spent) AS spent
                   FROM project_funding GROUP BY project_id) f ON f.project_id = p.id
        WHERE p.hromada_id = :h
        ORDER BY p.outcome NULLS FIRST, array_position(ARRAY[{order}], p.stage) DESC, p.title_uk, p.id"""),
        {"h": hromada_id}).mappings()
    return [{**dict(r), "spent_share": share(r["spent"], r["budget"])} for r in rows]


def analytics(conn: sa.Connection, hromada_id: int) -> dict:
    """Totals for the hromada's public analytics, every sum exact (numeric in PostgreSQL):

    * ``totals``: projects, budget, available, disbursed, spent, the spent share of the budget;
    * ``by_stage``: count and budget per stage of the open and completed projects, then per outcome
      (cancelled, unsuccessful) — every stage listed, zeros included;
    * ``by_status``: count and budget per DREAM status;
    * ``by_sector``: count, budget and spent per sector (only the sectors with projects);
    * ``by_source``: available, disbursed and spent per funding source (only the sources used);
    * ``timeline``: per month (``YYYY-MM``) the stages entered, oldest first, and ``events``: the
      latest 30 moves. Every project counts, cancelled ones too: money spent on them was spent."""
    projects = projects_in_hromada(conn, hromada_id)
    zero = Decimal("0.00")
    totals = {"projects": len(projects), "budget": sum((p["budget"] for p in projects), zero)}
    for k in ("available", "disbursed", "spent"):
        totals[k] = sum((p[k] for p in projects), zero)
    totals["spent_share"] = share(totals["spent"], totals["budget"])
    totals["disbursed_share"] = share(totals["disbursed"], totals["budget"])

    def group(key: str, codes) -> list[dict]:
        out = []
        for code in codes:
            members = [p for p in projects if key_of(p, key) == code]
            out.append({"code": code, "count": len(members), "budget": sum((p["budget"] for p in members), zero),
                        "spent": sum((p["spent"] for p in members), zero)})
        return out

    def key_of(p: dict, key: str) -> str:
        return (p["outcome"] or p["stage"]) if key == "phase" else p[key]

    by_sector = [g for g in group("sector", SECTORS) if g["count"]]
    by_source = [{**dict(r)} for r in conn.execute(sa.text("""
        SELECT f.source AS code, sum(f.available) AS available, sum(f.disbursed) AS disbursed, sum(f.spent) AS spent,
               count(DISTINCT f.project_id) AS projects
        FROM project_funding f JOIN reconstruction_project p ON p.id = f.project_id
        WHERE p.hromada_id = :h GROUP BY f.source"""), {"h": hromada_id}).mappings()]
    by_source.sort(key=lambda r: list(FUNDING_SOURCES).index(r["code"]))
    moves = conn.execute(sa.text("""
        SELECT s.project_id, s.stage, s.entered_at, p.title_uk, p.title_en
        FROM project_stage s JOIN reconstruction_project p ON p.id = s.project_id
        WHERE p.hromada_id = :h ORDER BY s.entered_at, s.id"""), {"h": hromada_id}).mappings().all()
    months: dict[str, dict[str, int]] = {}
    for m in moves:
        counts = months.setdefault(f"{m['entered_at']:%Y-%m}", {})
        counts[m["stage"]] = counts.get(m["stage"], 0) + 1
    return {
        "totals": totals,
        "by_stage": group("phase", (*STAGE_ORDER, *OUTCOMES)),
        "by_status": group("status", STATUSES),
        "by_sector": by_sector,
        "by_source": by_source,
        "timeline": [{"month": month, "counts": counts, "total": sum(counts.values())}
                     for month, counts in sorted(months.items())],
        "events": [dict(m) for m in reversed(moves[-30:])],
        "projects": projects,
    }


# The project's public facts as PROJECTS declares them (the unit by its name, not its id), then
# what the export adds: money per source, tenders, damage references, the point.
EXPORT_FACTS = tuple(f.name for f in PROJECTS.public_fields if f.type not in ("unit", "money"))
EXPORT_COLUMNS = ("id", *EXPORT_FACTS, "budget", "available", "disbursed", "spent",
                  *(f"available_{s}" for s in FUNDING_SOURCES), *(f"spent_{s}" for s in FUNDING_SOURCES),
                  "responsible_unit", "tenders", "damage_refs", "lon", "lat")


def export_rows(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """One row per project for open data: its facts, its money in total and per source (exact, as text
    with a dot), its tenders and damage references (``;``-separated), its point; footprint as GeoJSON."""
    import json

    facts = ", ".join(f"p.{PROJECTS.field(name).column_name} AS {name}" for name in EXPORT_FACTS)
    rows = conn.execute(sa.text(f"""
        SELECT p.id, {facts}, p.budget, u.name_uk AS responsible_unit, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
               ST_AsGeoJSON(COALESCE(fp.geom, p.geom), 6) AS geometry,
               (SELECT string_agg(tender_id, ';' ORDER BY tender_id) FROM project_tender t WHERE t.project_id = p.id)
                   AS tenders,
               (SELECT string_agg(ref, ';' ORDER BY ref) FROM project_damage_ref d WHERE d.project_id = p.id)
                   AS damage_refs
        FROM reconstruction_project p LEFT JOIN unit u ON u.id = p.responsible_unit_id
        LEFT JOIN project_footprint fp ON fp.project_id = p.id
        WHERE p.hromada_id = :h ORDER BY p.id"""), {"h": hromada_id}).mappings().all()
    money_rows = conn.execute(sa.text("""
        SELECT f.project_id, f.source, sum(f.available) AS available, sum(f.disbursed) AS disbursed,
               sum(f.spent) AS spent
        FROM project_funding f JOIN reconstruction_project p ON p.id = f.project_id
        WHERE p.hromada_id = :h GROUP BY f.project_id, f.source"""), {"h": hromada_id}).mappings().all()
    out = []
    for r in rows:
        mine = [m for m in money_rows if m["project_id"] == r["id"]]
        item = {k: r[k] for k in ("id", *EXPORT_FACTS, "responsible_unit", "tenders", "damage_refs")}
        item["budget"] = str(r["budget"])
        for k in ("available", "disbursed", "spent"):
            item[k] = str(sum((m[k] for m in mine), Decimal("0.00")))
        for s in FUNDING_SOURCES:
            item[f"available_{s}"] = str(sum((m["available"] for m in mine if m["source"] == s), Decimal("0.00")))
            item[f"spent_{s}"] = str(sum((m["spent"] for m in mine if m["source"] == s), Decimal("0.00")))
        item["lon"], item["lat"] = round(r["lon"], 6), round(r["lat"], 6)
        item["_geometry"] = json.loads(r["geometry"])
        out.append(item)
    return out
