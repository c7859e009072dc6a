"""Spatial plans and their zones, edited by planners with no lost update and a full history.

- ``plans``: plan documents (the hromada's comprehensive plan, a village's general plan, a detailed
  plan, a zoning plan) with their territory, status and approval decision.
- ``plan_zones``: the functional zones of a plan, coded by a configurable classifier
  (``zone_class``, seeded from :data:`DEFAULT_ZONE_CLASSES`, after ДБН Б.2.2-12:2019).

Every write names the version it edits (``expected_version``): the UPDATE only happens where the
zone still has that version, so of two planners editing the same zone exactly one wins and the
other gets a 412 with the current version. A trigger (migration 0014+) keeps every version of every
zone in ``plan_zone_version`` — who, when, why, the geometry and attributes — so the plan can be
seen as it was on any date, two dates compared, and a change reverted as a new version. Who is named
as a person reads it (migration 0030: the account's name, else its e-mail, kept as it was then); a plan
loaded after its approval counts from the decision date (:func:`count_from_approval`).

Rules checked on every save (each a 4xx with a message): the geometry is valid (or repaired when
asked), the zone lies within the plan's territory and the hromada, it does not overlap another
zone of the plan, and the plan is not approved or superseded (read-only). A draft plan and its
zones are seen only by planners and admins (``Layer.public_rows``).

Plans themselves are made and changed in the browser too (#19): :func:`new_plan` over the whole hromada,
a settlement's boundary or a drawn polygon (:func:`territory_geojson`), :func:`update_plan` (title, type,
documents; a draft's territory, which must keep its zones) and :func:`change_plan_status`, each against
the plan's :func:`plan_revision` (412 when it changed meanwhile) and recorded in the hromada's audit log
(``plan.create``, ``plan.update``, ``plan.status``; read back by :func:`plan_changes`).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gis.audit import By, record
from gis.errors import (
    Conflict,
    Forbidden,
    HromadaError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from gis.models import metadata
from layers.base import CategoryStyle, Field, Layer, Permissions, label

PLAN_TYPES = {
    "comprehensive": {"uk": "комплексний план просторового розвитку громади", "en": "comprehensive spatial plan"},
    "general": {"uk": "генеральний план населеного пункту", "en": "general plan of a settlement"},
    "detailed": {"uk": "детальний план території", "en": "detailed plan of a territory"},
    "zoning": {"uk": "план зонування території", "en": "zoning plan"},
}
PLAN_STATUSES = {
    "draft": {"uk": "проєкт", "en": "draft"},
    "discussion": {"uk": "громадське обговорення", "en": "public discussion"},
    "approved": {"uk": "затверджено", "en": "approved"},
    "superseded": {"uk": "втратив чинність", "en": "superseded"},
}
PLAN_TRANSITIONS = {"draft": ("discussion",), "discussion": ("draft", "approved"), "approved": ("superseded",),
                    "superseded": ()}
READ_ONLY = ("approved", "superseded")
EDITORS = frozenset({"planner", "admin"})

# ДБН Б.2.2-12:2019 functional zones (the common ones); a hromada may add its own (zone_class table).
DEFAULT_ZONE_CLASSES = (
    ("Ж-1", "садибна житлова забудова", "low-rise residential (houses with plots)", "#ffd43b"),
    ("Ж-2", "багатоквартирна житлова забудова", "multi-storey residential", "#fab005"),
    ("Г-1", "громадська забудова", "public buildings", "#f783ac"),
    ("П", "виробнича", "industrial", "#868e96"),
    ("К", "комунально-складська", "utilities and storage", "#adb5bd"),
    ("ТР", "транспортна інфраструктура", "transport", "#495057"),
    ("ІН", "інженерна інфраструктура", "engineering infrastructure", "#748ffc"),
    ("Р", "рекреаційна", "recreation", "#8ce99a"),
    ("ПЗ", "природоохоронна", "nature protection", "#2b8a3e"),
    ("С", "сільськогосподарська", "agricultural", "#d8f5a2"),
    ("ІК", "історико-культурна", "historical and cultural", "#e599f7"),
    ("СП", "спеціальна", "special use", "#ff8787"),
)
KYIV = ZoneInfo("Europe/Kyiv")  # a decision's date starts at midnight there
OVERLAP_TOLERANCE_M2 = 1.0  # shared edges digitised twice overlap by slivers; more than this is an overlap
OUTSIDE_TOLERANCE_M2 = 1.0

zone_class = sa.Table(
    "zone_class", metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text, nullable=False),
    sa.Column("colour", sa.Text, nullable=False, server_default="#868e96"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
)

PLANS = Layer(
    name="plans",
    title={"uk": "Містобудівна документація", "en": "Spatial plans"},
    description={"uk": "Плани просторового розвитку: вид, статус, рішення про затвердження",
                 "en": "Spatial plans: type, status, approval decision"},
    geometry="MultiPolygon",
    table="plan",
    generated_table=True,
    fields=(
        Field("title", "text", {"uk": "Назва", "en": "Title"}, required=True),
        Field("plan_type", "choice", {"uk": "Вид", "en": "Type"}, required=True, choices=PLAN_TYPES),
        Field("status", "choice", {"uk": "Стан", "en": "Status"}, required=True, choices=PLAN_STATUSES),
        Field("decision_number", "text", {"uk": "Рішення про затвердження №", "en": "Approval decision No."}),
        Field("decision_date", "date", {"uk": "Дата рішення", "en": "Decision date"}),
        Field("documents", "text", {"uk": "Документи", "en": "Documents"}),
        Field("published", "boolean", {"uk": "Оприлюднено", "en": "Published"},
              computed="status <> 'draft'"),
    ),
    popup=("title", "plan_type", "status", "decision_number", "decision_date"),
    label_field="title",
    style=CategoryStyle(field="status", fill_opacity=0.05, dash_array="6 4", colors={
        "draft": "#868e96", "discussion": "#e67700", "approved": "#1971c2", "superseded": "#495057"}),
    permissions=Permissions(edit=EDITORS),
    public_rows="published",
)

PLAN_ZONES = Layer(
    name="plan_zones",
    title={"uk": "Функціональні зони", "en": "Functional zones"},
    description={"uk": "Зони планів: функціональне призначення, дозволені види використання, обмеження",
                 "en": "Plan zones: function, permitted uses, limits"},
    geometry="MultiPolygon",
    table="plan_zone",
    generated_table=True,
    fields=(
        Field("plan_id", "integer", {"uk": "План", "en": "Plan"}, required=True),
        Field("zone_code", "text", {"uk": "Код зони", "en": "Zone code"}, required=True, aliases=("код",)),
        Field("name", "text", {"uk": "Назва зони", "en": "Zone name"}),
        Field("permitted_uses", "text", {"uk": "Дозволені види використання", "en": "Permitted uses"}),
        Field("max_height_m", "number", {"uk": "Гранична висота, м", "en": "Height limit, m"}),
        Field("max_density", "number", {"uk": "Гранична щільність, осіб/га", "en": "Density limit, people/ha"}),
        Field("notes", "text", {"uk": "Примітки", "en": "Notes"}),
        Field("version", "integer", {"uk": "Версія", "en": "Version"}),
        Field("updated_at", "datetime", {"uk": "Змінено", "en": "Changed"}),
        Field("published", "boolean", {"uk": "Оприлюднено", "en": "Published"}),
    ),
    popup=("zone_code", "name", "permitted_uses", "max_height_m", "max_density", "version"),
    label_field="zone_code",
    style=CategoryStyle(field="zone_code", fill_opacity=0.45,
                        colors={code: colour for code, _, _, colour in DEFAULT_ZONE_CLASSES}),
    permissions=Permissions(edit=EDITORS),
    public_rows="published",
)
LAYERS = (PLANS, PLAN_ZONES)

# Every version of every zone (filled by the trigger plan_zone_version on plan_zone).
plan_zone_version = sa.Table(
    "plan_zone_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("zone_id", sa.Integer, nullable=False),  # no FK: the history outlives a deleted zone
    sa.Column("plan_id", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("operation", sa.Text, nullable=False),  # create, update, delete, revert
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("reason", sa.Text),
    sa.Column("attributes", pg.JSONB, nullable=False),
    sa.Column("geom", sa.Text),  # EWKB hex of the zone's geometry at this version (NULL when deleted)
    # Who, as a person reads it: the account's full name, else its e-mail, else the name a writer without
    # an account gave (an import); kept as it was then, so it outlives a renamed or removed account (#19).
    sa.Column("author", sa.Text),
    # From when this version counts, when not from changed_at: a plan loaded after its approval counts from
    # the decision date (count_from_approval, #19). The plan as of a moment reads COALESCE(valid_from, changed_at).
    sa.Column("valid_from", sa.DateTime(timezone=True)),
    # A write that named no version (OGC API PATCH/DELETE without If-Match, layers.writable, #19); flagged
    # for the planners' review when it replaced a value another account had set lately (review_fields: which).
    sa.Column("versionless", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("review_fields", pg.ARRAY(sa.Text)),
    sa.UniqueConstraint("zone_id", "version"),
    sa.Index("ix_plan_zone_version_plan_id_changed_at", "plan_id", "changed_at"),
)

plan_comment = sa.Table(
    "plan_comment", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id", ondelete="CASCADE"), nullable=False),
    sa.Column("zone_id", sa.Integer),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author_name", sa.Text),  # shown once approved, if given
    sa.Column("author_email", sa.Text),  # staff only
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("moderated_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
)

# What planners give a zone; the rest of the declaration (plan, version, times, published) the service keeps.
SERVICE_FIELDS = ("plan_id", "version", "updated_at", "published")
ATTRIBUTES = tuple(f.name for f in PLAN_ZONES.fields if f.name not in SERVICE_FIELDS)


@dataclass(frozen=True)
class Editor:
    """Who edits: the user and the roles held per hromada (hromada id → roles). ``name`` names a writer
    without an account (an importer) in the history; an account is named by its own name or e-mail."""

    user_id: int | None
    grants: dict
    name: str | None = None

    def roles_in(self, hromada_id: int | None) -> frozenset[str]:
        return frozenset(self.grants.get(hromada_id, ()))


class VersionConflict(PreconditionFailed):
    """A write based on an old version: 412 with the current version, so the client can merge."""

    def __init__(self, current: dict):
        super().__init__(
            f"Зону {current['id']} вже змінено: поточна версія {current['version']}. Перегляньте зміни й повторіть",
            f"Zone {current['id']} has changed: the current version is {current['version']}. Review and retry")
        self.current = current


def require_editor(editor: Editor, hromada_id: int | None) -> None:
    """A planner or admin of the hromada the plan belongs to."""
    if not editor.roles_in(hromada_id) & EDITORS:
        raise Forbidden("Редагувати плани цієї громади можуть лише її планувальники",
                        "Only this hromada's planners may edit its plans")


def plan_hromada_id(conn: sa.Connection, plan_id: int) -> int:
    """The id of the plan's hromada; NotFound when there is no such plan (or it has no hromada)."""
    found = _plan(conn, plan_id)["hromada_id"]
    if found is None:
        raise NotFound(f"Плану {plan_id} немає", f"Plan {plan_id} does not exist")
    return found


def zone_hromada_id(conn: sa.Connection, zone_id: int) -> int:
    """The hromada of a zone, deleted ones too (through its last version)."""
    found = conn.execute(sa.text("""
        SELECT p.hromada_id FROM plan p WHERE p.id = COALESCE(
            (SELECT plan_id FROM plan_zone WHERE id = :z),
            (SELECT plan_id FROM plan_zone_version WHERE zone_id = :z ORDER BY version DESC LIMIT 1))"""),
        {"z": zone_id}).scalar()
    if found is None:
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    return found


def comment_hromada_id(conn: sa.Connection, comment_id: int) -> int:
    """The hromada of the plan a comment is on; NotFound when there is no such comment."""
    found = conn.execute(sa.text("SELECT p.hromada_id FROM plan_comment c JOIN plan p ON p.id = c.plan_id "
                                 "WHERE c.id = :c"), {"c": comment_id}).scalar()
    if found is None:
        raise NotFound(f"Коментаря {comment_id} немає", f"Comment {comment_id} does not exist")
    return found


def zone_plan_id(conn: sa.Connection, zone_id: int) -> int:
    """The plan a zone belongs (or, deleted, belonged) to, from its versions; NotFound otherwise."""
    found = conn.execute(sa.text("SELECT plan_id FROM plan_zone_version WHERE zone_id = :z LIMIT 1"),
                         {"z": zone_id}).scalar()
    if found is None:
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    return found


def sync_zone_classes(conn: sa.Connection) -> None:
    """Insert the default classifier codes that are missing (a hromada's own codes stay)."""
    stmt = pg.insert(zone_class).values([{"code": c, "name_uk": uk, "name_en": en, "colour": colour}
                                         for c, uk, en, colour in DEFAULT_ZONE_CLASSES])
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["code"]))


# --- plans ---------------------------------------------------------------------------------------

def _plan(conn: sa.Connection, plan_id: int, *, lock: bool = False) -> sa.RowMapping:
    row = conn.execute(sa.text("SELECT id, hromada_id, status, title FROM plan WHERE id = :id"
                               + (" FOR UPDATE" if lock else "")), {"id": plan_id}).mappings().first()
    if row is None:
        raise NotFound(f"Плану {plan_id} немає", f"Plan {plan_id} does not exist")
    return row


def create_plan(conn: sa.Connection, editor: Editor, *, hromada_id: int, title: str, plan_type: str,
                area_geojson: dict, documents: str | None = None, repair: bool = False) -> int:
    """A new draft plan over ``area_geojson`` (a Polygon or MultiPolygon within the hromada); an invalid
    outline is a 422 unless ``repair`` (as for zones). Errors name the field they are about (``field``)."""
    require_editor(editor, hromada_id)
    _check_plan_values(title, plan_type)
    geom = _territory(conn, hromada_id, area_geojson, repair=repair)
    return conn.execute(sa.text("""
        INSERT INTO plan (hromada_id, title, plan_type, status, documents, geom)
        VALUES (:h, :t, :pt, 'draft', :d, ST_GeomFromEWKB(:g)) RETURNING id"""),
        {"h": hromada_id, "t": title.strip(), "pt": plan_type, "d": documents, "g": geom}).scalar_one()


def set_plan_status(conn: sa.Connection, plan_id: int, status: str, editor: Editor, *,
                    decision_number: str | None = None, decision_date: dt.date | None = None) -> None:
    """Move a plan along draft → discussion → approved → superseded (back to draft from discussion).

    Approving needs the decision's number and date. Publishing (leaving draft) shows the plan and
    its zones to everyone; the zones' ``published`` flag follows in the same transaction.
    """
    require_editor(editor, plan_hromada_id(conn, plan_id))
    plan = _plan(conn, plan_id, lock=True)
    if status not in PLAN_STATUSES:
        raise InvalidInput(f"Стан «{status}» невідомий", f"Unknown status {status!r}")
    if status not in PLAN_TRANSITIONS[plan["status"]]:
        raise Conflict(f"План у стані «{PLAN_STATUSES[plan['status']]['uk']}» "
                       f"не можна перевести в «{PLAN_STATUSES[status]['uk']}»",
                       f"A plan that is {PLAN_STATUSES[plan['status']]['en']} "
                       f"cannot become {PLAN_STATUSES[status]['en']}")
    if status == "approved" and not ((decision_number or "").strip() and decision_date):
        raise InvalidInput("Для затвердження потрібні номер і дата рішення",
                           "Approval needs the decision's number and date")
    conn.execute(sa.text("""
        UPDATE plan SET status = :s, decision_number = COALESCE(:n, decision_number),
                        decision_date = COALESCE(:d, decision_date) WHERE id = :id"""),
        {"s": status, "n": (decision_number or "").strip() or None, "d": decision_date, "id": plan_id})
    # Only the flag changes: the history trigger ignores it, so no zone gets a new version.
    conn.execute(sa.text("UPDATE plan_zone SET published = :p WHERE plan_id = :id"),
                 {"p": status != "draft", "id": plan_id})


# --- plans in the browser: territory, attributes, their changes (issue #19) -------------------------

TERRITORIES = ("hromada", "settlement", "drawn")  # the whole hromada, a settlement's boundary, drawn
PLAN_TITLE_MAX = 500
PLAN_DOCUMENTS_MAX = 4000


class PlanChanged(PreconditionFailed):
    """The plan's attributes were changed by someone else since the form was opened: 412."""

    def __init__(self, current: str):
        super().__init__("План тим часом змінив інший планувальник: перегляньте поточні значення й збережіть ще раз",
                         "Someone else changed the plan meanwhile: review its current values and save again",
                         field="revision")
        self.current = current


def _check_plan_values(title: str | None, plan_type: str | None) -> None:
    if not (title or "").strip():
        raise InvalidInput("Назва плану порожня", "The plan's title is empty", field="title")
    if len(title.strip()) > PLAN_TITLE_MAX:
        raise InvalidInput(f"Назва плану довша за {PLAN_TITLE_MAX} знаків",
                           f"The plan's title is longer than {PLAN_TITLE_MAX} characters", field="title")
    if plan_type not in PLAN_TYPES:
        raise InvalidInput(f"Вид плану «{plan_type}» невідомий", f"Unknown plan type {plan_type!r}",
                           field="plan_type")


def _territory(conn: sa.Connection, hromada_id: int, area_geojson: dict | str, *, repair: bool) -> bytes:
    """A plan's territory: a valid (or repaired) polygon within the hromada, as EWKB."""
    try:
        geom = _geometry(conn, area_geojson, repair=repair)
    except HromadaError as exc:
        exc.details.setdefault("field", "area")
        raise
    outside = conn.execute(sa.text(f"""
        SELECT ST_Area(ST_Transform(ST_Difference(ST_GeomFromEWKB(:g), boundary), {_srid_sql()}))
        FROM hromada WHERE id = :h"""), {"g": geom, "h": hromada_id}).scalar()
    if outside is None:
        raise NotFound(f"Громади {hromada_id} немає", f"Hromada {hromada_id} does not exist")
    if outside > OUTSIDE_TOLERANCE_M2:
        raise Unprocessable(f"Територія плану виходить за межі громади на {outside:.0f} м²",
                            f"The plan's territory lies {outside:.0f} m² outside the hromada", field="area")
    return geom


def settlements_with_areas(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The hromada's settlements whose boundary is known (a plan may cover one), by name."""
    rows = conn.execute(sa.text("""
        SELECT id, name_uk, name_en, kind FROM settlement
        WHERE hromada_id = :h AND boundary IS NOT NULL AND NOT ST_IsEmpty(boundary)
        ORDER BY id"""), {"h": hromada_id}).mappings()
    from layers.places import UK_ALPHABET

    order = str.maketrans({c: chr(0x3000 + i) for i, c in enumerate(UK_ALPHABET)})  # І, Ї, Є, Ґ in their place
    return sorted((dict(r) for r in rows), key=lambda r: r["name_uk"].lower().translate(order))


def hromada_outline(conn: sa.Connection, hromada_id: int) -> dict:
    """The hromada's boundary (GeoJSON MultiPolygon) and its bounds, for the territory map."""
    row = conn.execute(sa.text("""
        SELECT ST_AsGeoJSON(ST_Multi(boundary), 7) AS shape, ST_XMin(boundary) AS minx, ST_YMin(boundary) AS miny,
               ST_XMax(boundary) AS maxx, ST_YMax(boundary) AS maxy FROM hromada WHERE id = :h"""),
        {"h": hromada_id}).mappings().first()
    if row is None or row["shape"] is None:
        raise NotFound(f"Громади {hromada_id} немає", f"Hromada {hromada_id} does not exist")
    return {**row, "shape": json.loads(row["shape"])}


def territory_geojson(conn: sa.Connection, hromada_id: int, territory: str, *, settlement_id: int | None = None,
                      drawn: dict | str | None = None) -> dict | str:
    """The outline a plan's territory choice stands for: the hromada's boundary, a settlement's boundary
    (clipped to the hromada), or the polygon drawn (or pasted as GeoJSON)."""
    if territory == "hromada":
        return hromada_outline(conn, hromada_id)["shape"]
    if territory == "settlement":
        if settlement_id is None:
            raise InvalidInput("Оберіть населений пункт", "Choose a settlement", field="settlement")
        found = conn.execute(sa.text("""
            SELECT ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Intersection(s.boundary, h.boundary), 3)), 9)
            FROM settlement s JOIN hromada h ON h.id = s.hromada_id
            WHERE s.id = :s AND s.hromada_id = :h AND s.boundary IS NOT NULL"""),
            {"s": settlement_id, "h": hromada_id}).scalar()
        if found is None:
            raise InvalidInput("Межі цього населеного пункту громади невідомі",
                               "This hromada has no settlement with that boundary", field="settlement")
        return json.loads(found)
    if territory == "drawn":
        if drawn is None or (isinstance(drawn, str) and not drawn.strip()):
            raise InvalidInput("Намалюйте територію на мапі або вставте GeoJSON-полігон",
                               "Draw the territory on the map or paste a GeoJSON polygon", field="area")
        return drawn
    raise InvalidInput(f"Територія «{territory}» невідома", f"Unknown territory {territory!r}", field="territory")


def _actor(conn: sa.Connection, editor: Editor) -> By:
    """The audit log's name for the editor: the account's full name, else its e-mail."""
    if editor.user_id is None:
        return By(editor.name or "planner")
    name = conn.execute(sa.text("SELECT COALESCE(NULLIF(btrim(full_name), ''), email) FROM app_user WHERE id = :u"),
                        {"u": editor.user_id}).scalar()
    return By(name or editor.name or "planner", editor.user_id)


def new_plan(conn: sa.Connection, editor: Editor, *, hromada_id: int, title: str, plan_type: str,
             territory: str, settlement_id: int | None = None, drawn: dict | str | None = None,
             documents: str | None = None, repair: bool = False) -> int:
    """A draft plan made in the browser: :func:`create_plan` over the territory chosen, recorded in the
    hromada's audit log (``plan.create``: who, when, the title, type and territory)."""
    require_editor(editor, hromada_id)
    _check_plan_values(title, plan_type)
    area = territory_geojson(conn, hromada_id, territory, settlement_id=settlement_id, drawn=drawn)
    documents = (documents or "").strip() or None
    if documents and len(documents) > PLAN_DOCUMENTS_MAX:
        raise InvalidInput(f"Документи: довше за {PLAN_DOCUMENTS_MAX} знаків",
                           f"Documents: longer than {PLAN_DOCUMENTS_MAX} characters", field="documents")
    plan_id = create_plan(conn, editor, hromada_id=hromada_id, title=title, plan_type=plan_type, area_geojson=area,
                          documents=documents, repair=repair)
    record(conn, _actor(conn, editor), "plan.create", hromada_id=hromada_id, object=f"plan:{plan_id}",
           detail={"title": title.strip(), "plan_type": plan_type, "territory": territory,
                   **({"settlement_id": settlement_id} if territory == "settlement" else {})})
    return plan_id


def plan_revision(conn: sa.Connection, plan_id: int) -> str:
    """What the plan's editable values are now, as a short fingerprint: a form carries it and its
    save names it, so a change made meanwhile by someone else is a 412, not lost (as zones' versions)."""
    found = conn.execute(sa.text("""
        SELECT md5(concat_ws('|', title, plan_type, status, coalesce(documents, ''), coalesce(decision_number, ''),
                             coalesce(decision_date::text, ''), md5(ST_AsEWKB(geom)::text)))
        FROM plan WHERE id = :p"""), {"p": plan_id}).scalar()
    if found is None:
        raise NotFound(f"Плану {plan_id} немає", f"Plan {plan_id} does not exist")
    return found[:16]


def update_plan(conn: sa.Connection, editor: Editor, plan_id: int, *, revision: str | None, title: str,
                plan_type: str, documents: str | None = None, area_geojson: dict | str | None = None,
                repair: bool = False, reason: str | None = None) -> list[str]:
    """Change a plan's title, type and documents (while it is a draft or in discussion) and its territory
    (while it is a draft; its zones must stay within). ``revision`` is :func:`plan_revision` as the form
    read it: another value now is a :class:`PlanChanged` (412). Returns the fields changed (none: nothing
    written); the change is recorded in the hromada's audit log (``plan.update``) with the values before."""
    hromada_id = plan_hromada_id(conn, plan_id)
    require_editor(editor, hromada_id)
    plan = _plan(conn, plan_id, lock=True)
    if plan["status"] in READ_ONLY:
        raise Conflict(f"План «{plan['title']}» {PLAN_STATUSES[plan['status']]['uk']}: його не змінюють",
                       f"Plan “{plan['title']}” is {PLAN_STATUSES[plan['status']]['en']}: it is read-only")
    current = plan_revision(conn, plan_id)
    if revision is not None and revision != current:
        raise PlanChanged(current)
    _check_plan_values(title, plan_type)
    documents = (documents or "").strip() or None
    if documents and len(documents) > PLAN_DOCUMENTS_MAX:
        raise InvalidInput(f"Документи: довше за {PLAN_DOCUMENTS_MAX} знаків",
                           f"Documents: longer than {PLAN_DOCUMENTS_MAX} characters", field="documents")
    before = conn.execute(sa.text("SELECT title, plan_type, documents FROM plan WHERE id = :p"),
                          {"p": plan_id}).mappings().one()
    values = {"title": title.strip(), "plan_type": plan_type, "documents": documents}
    changed = [k for k, v in values.items() if before[k] != v]
    params = {"p": plan_id, **values}
    sets = [f"{k} = :{k}" for k in values]
    if area_geojson is not None:
        if plan["status"] != "draft":
            raise Conflict("Територію плану змінюють лише в проєкті", "Only a draft plan's territory can change",
                           field="territory")
        geom = _territory(conn, hromada_id, area_geojson, repair=repair)
        same = conn.execute(sa.text("SELECT ST_Equals(geom, ST_GeomFromEWKB(:g)) FROM plan WHERE id = :p"),
                            {"g": geom, "p": plan_id}).scalar()
        if not same:
            outside = conn.execute(sa.text(f"""
                WITH t AS (SELECT ST_GeomFromEWKB(:g) AS g, (SELECT boundary FROM hromada WHERE id = :h) AS boundary)
                SELECT z.id, z.zone_code, ST_Area(ST_Transform(ST_Difference(z.geom, t.g), {_srid_sql()})) AS m2
                FROM plan_zone z, t WHERE z.plan_id = :p
                  AND ST_Area(ST_Transform(ST_Difference(z.geom, t.g), {_srid_sql()})) > :tol ORDER BY z.id"""),
                {"g": geom, "h": hromada_id, "p": plan_id, "tol": OUTSIDE_TOLERANCE_M2}).all()
            if outside:
                listed_uk = ", ".join(f"№{r.id} ({r.zone_code}, {r.m2:.0f} м²)" for r in outside)
                listed_en = ", ".join(f"No. {r.id} ({r.zone_code}, {r.m2:.0f} m²)" for r in outside)
                raise Unprocessable(f"Зони плану вийшли б за межі нової території: {listed_uk}",
                                    f"The plan's zones would lie outside the new territory: {listed_en}", field="area")
            changed.append("territory")
            sets.append("geom = ST_GeomFromEWKB(:g)")
            params["g"] = geom
    if not changed:
        return []
    conn.execute(sa.text(f"UPDATE plan SET {', '.join(sets)} WHERE id = :p"), params)
    record(conn, _actor(conn, editor), "plan.update", hromada_id=hromada_id, object=f"plan:{plan_id}",
           detail={"changed": changed, "before": {k: before[k] for k in changed if k in before},
                   **({"reason": reason.strip()} if (reason or "").strip() else {})})
    return changed


def change_plan_status(conn: sa.Connection, plan_id: int, status: str, editor: Editor, *,
                       decision_number: str | None = None, decision_date: dt.date | None = None,
                       revision: str | None = None) -> None:
    """:func:`set_plan_status` as the plan page asks for it: against the revision the page showed (412
    when the plan changed meanwhile), recorded in the audit log (``plan.status``: from, to, decision)."""
    hromada_id = plan_hromada_id(conn, plan_id)
    require_editor(editor, hromada_id)
    before = _plan(conn, plan_id, lock=True)["status"]
    if revision is not None and revision != plan_revision(conn, plan_id):
        raise PlanChanged(plan_revision(conn, plan_id))
    set_plan_status(conn, plan_id, status, editor, decision_number=decision_number, decision_date=decision_date)
    detail = {"from": before, "to": status}
    if status == "approved":
        detail.update(decision_number=(decision_number or "").strip(), decision_date=decision_date.isoformat())
    record(conn, _actor(conn, editor), "plan.status", hromada_id=hromada_id, object=f"plan:{plan_id}", detail=detail)


def plan_changes(conn: sa.Connection, plan_id: int) -> list[dict]:
    """Who made, changed and moved the plan along its statuses, when, newest first (the audit log's
    ``plan.*`` entries about it)."""
    rows = conn.execute(sa.text("""
        SELECT id, actor, action, detail, created_at FROM audit_log
        WHERE object = :o AND action LIKE 'plan.%' ORDER BY id DESC"""), {"o": f"plan:{plan_id}"}).mappings()
    return [dict(r) for r in rows]


def count_from_approval(conn: sa.Connection, plan_id: int) -> int:
    """A plan loaded (imported) after it was approved: the first version of each of its zones counts
    from the decision date — midnight at its start, Kyiv time — instead of from the loading, so the plan
    as of any moment since its approval shows its zones (#19). When each version was written stays as it
    was. Only for an approved or superseded plan with a decision date, and only first versions written
    after that date and not dated yet: calling it again changes nothing. Returns how many were dated."""
    plan = conn.execute(sa.text("SELECT status, decision_date FROM plan WHERE id = :p"), {"p": plan_id}).first()
    if plan is None:
        raise NotFound(f"Плану {plan_id} немає", f"Plan {plan_id} does not exist")
    if plan.status not in READ_ONLY or plan.decision_date is None:
        raise Conflict("Від дати затвердження рахують лише затверджений план з датою рішення",
                       "Only an approved plan with a decision date can count from its approval")
    approved = dt.datetime.combine(plan.decision_date, dt.time.min, tzinfo=KYIV)
    return conn.execute(sa.text("""
        UPDATE plan_zone_version SET valid_from = :t
        WHERE plan_id = :p AND version = 1 AND operation = 'create' AND valid_from IS NULL AND changed_at > :t"""),
        {"p": plan_id, "t": approved}).rowcount


# --- rules -------------------------------------------------------------------------------------

def _srid_sql() -> str:
    from gis.crs import metric_srid_sql

    return metric_srid_sql("boundary")


def _geometry(conn: sa.Connection, geojson: dict | str, *, repair: bool) -> bytes:
    """The GeoJSON polygon(s) as a valid EPSG:4326 MultiPolygon (EWKB); invalid → 422, unless ``repair``."""
    text = geojson if isinstance(geojson, str) else json.dumps(geojson)
    try:
        row = conn.execute(sa.text("""
            WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) AS g)
            SELECT GeometryType(g) AS kind, ST_IsValid(g) AS valid, ST_IsValidReason(g) AS why,
                   ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3))) AS repaired,
                   ST_AsEWKB(ST_Multi(g)) AS given,
                   ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90 AS on_earth
            FROM g"""), {"g": text}).mappings().one()
    except sa.exc.DBAPIError:
        raise InvalidInput("Геометрія не є правильним GeoJSON", "The geometry is not valid GeoJSON") from None
    if not row["on_earth"]:  # 1e308 would fail later, in the transform to metres
        raise InvalidInput("Координати поза межами WGS 84 (довгота −180…180, широта −90…90)",
                           "Coordinates outside WGS 84 (longitude −180…180, latitude −90…90)")
    if row["kind"] not in ("POLYGON", "MULTIPOLYGON"):
        raise InvalidInput(f"Зона має бути полігоном, а не {row['kind']}",
                           f"A zone must be a polygon, not {row['kind']}")
    if not row["valid"]:
        if not repair:
            raise Unprocessable(f"Геометрія неправильна ({row['why']}); надішліть ще раз з repair=true, щоб виправити",
                                f"The geometry is invalid ({row['why']}); send it again with repair=true to repair it")
        return bytes(row["repaired"])
    return bytes(row["given"])


def check_zone(conn: sa.Connection, plan_id: int, geom: bytes, zone_id: int | None = None) -> None:
    """The rules of a zone's place: within the plan's territory and the hromada, no overlap."""
    found = conn.execute(sa.text(f"""
        WITH z AS (SELECT ST_GeomFromEWKB(:g) AS g), p AS (SELECT p.geom AS area, h.boundary FROM plan p
                   JOIN hromada h ON h.id = p.hromada_id WHERE p.id = :plan)
        SELECT ST_Area(ST_Transform(ST_Difference(z.g, p.area), {_srid_sql()})) AS outside_plan,
               ST_Area(ST_Transform(ST_Difference(z.g, p.boundary), {_srid_sql()})) AS outside_hromada
        FROM z, p"""), {"g": geom, "plan": plan_id}).mappings().one()
    if found["outside_plan"] > OUTSIDE_TOLERANCE_M2:
        raise Unprocessable(f"Зона виходить за межі території плану на {found['outside_plan']:.0f} м²",
                            f"The zone lies {found['outside_plan']:.0f} m² outside the plan's territory")
    if found["outside_hromada"] > OUTSIDE_TOLERANCE_M2:
        raise Unprocessable(f"Зона виходить за межі громади на {found['outside_hromada']:.0f} м²",
                            f"The zone lies {found['outside_hromada']:.0f} m² outside the hromada")
    overlaps = conn.execute(sa.text(f"""
        WITH z AS (SELECT ST_GeomFromEWKB(:g) AS g), b AS (SELECT h.boundary FROM plan p JOIN hromada h
                   ON h.id = p.hromada_id WHERE p.id = :plan)
        SELECT o.id, o.zone_code, ST_Area(ST_Transform(ST_Intersection(o.geom, z.g), {_srid_sql()})) AS m2
        FROM plan_zone o, z, b
        WHERE o.plan_id = :plan AND o.id IS DISTINCT FROM :zone AND ST_Intersects(o.geom, z.g)
          AND ST_Area(ST_Transform(ST_Intersection(o.geom, z.g), {_srid_sql()})) > :tol
        ORDER BY o.id"""), {"g": geom, "plan": plan_id, "zone": zone_id, "tol": OVERLAP_TOLERANCE_M2}).all()
    if overlaps:
        listed_uk = ", ".join(f"№{r.id} ({r.zone_code}, {r.m2:.0f} м²)" for r in overlaps)
        listed_en = ", ".join(f"No. {r.id} ({r.zone_code}, {r.m2:.0f} m²)" for r in overlaps)
        raise Unprocessable(f"Зона накладається на інші зони плану: {listed_uk}",
                            f"The zone overlaps other zones of the plan: {listed_en}")


def _check_code(conn: sa.Connection, code: str | None) -> str:
    code = (code or "").strip()
    known = conn.execute(sa.text("SELECT 1 FROM zone_class WHERE code = :c AND is_active"), {"c": code}).first()
    if known is None:
        raise InvalidInput(f"Код зони «{code}» не з класифікатора", f"Zone code {code!r} is not in the classifier")
    return code


def _attributes(conn: sa.Connection, given: dict, *, full: bool) -> dict:
    unknown = set(given) - set(ATTRIBUTES)
    if unknown:
        raise InvalidInput(f"Невідомі поля: {', '.join(sorted(unknown))}",
                           f"Unknown fields: {', '.join(sorted(unknown))}")
    from layers.values import BadValue, convert

    out = {}
    for name in ATTRIBUTES if full else given:
        value = given.get(name)
        if name == "zone_code":
            out[name] = _check_code(conn, value)
            continue
        try:
            out[name] = convert(PLAN_ZONES.field(name), value)
        except BadValue as exc:
            raise InvalidInput(f"{label(PLAN_ZONES.field(name).label, 'uk')}: неправильне значення {value!r}",
                               f"{name}: {exc}") from None
        if name in ("max_height_m", "max_density") and out[name] is not None and out[name] < 0:
            raise InvalidInput(f"{label(PLAN_ZONES.field(name).label, 'uk')}: від'ємне значення", f"{name}: negative")
    return out


def _editable_plan(conn: sa.Connection, plan_id: int) -> sa.RowMapping:
    plan = _plan(conn, plan_id)
    if plan["status"] in READ_ONLY:
        raise Conflict(f"План «{plan['title']}» {PLAN_STATUSES[plan['status']]['uk']}: його зони не змінюють",
                       f"Plan “{plan['title']}” is {PLAN_STATUSES[plan['status']]['en']}: its zones are read-only")
    return plan


def _who(conn: sa.Connection, editor: Editor, reason: str | None) -> None:
    """Tell the history trigger who writes and why (for this transaction only). The trigger names the
    account by its full name or e-mail (migration 0030); ``editor.name`` only when there is no account."""
    conn.execute(sa.text("SELECT set_config('hromada.user_id', :u, true), set_config('hromada.reason', :r, true), "
                         "set_config('hromada.author', :a, true)"),
                 {"u": "" if editor.user_id is None else str(editor.user_id), "r": (reason or "").strip(),
                  "a": (editor.name or "").strip()})


# --- writes --------------------------------------------------------------------------------------

def get_zone(conn: sa.Connection, zone_id: int, *, roles=frozenset()) -> dict:
    row = conn.execute(sa.text("""
        SELECT z.*, ST_AsGeoJSON(z.geom, 9) AS geojson FROM plan_zone z WHERE z.id = :id"""),
        {"id": zone_id}).mappings().first()
    if row is None or (not row["published"] and not set(roles) & EDITORS):
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    return _zone_dict(row)


def _zone_dict(row) -> dict:
    return {"id": row["id"], "plan_id": row["plan_id"], "version": row["version"],
            **{k: row[k] for k in ATTRIBUTES}, "updated_at": row["updated_at"].isoformat(),
            "geometry": json.loads(row["geojson"])}


def create_zone(conn: sa.Connection, editor: Editor, plan_id: int, attributes: dict, geometry: dict, *,
                reason: str | None = None, repair: bool = False) -> dict:
    require_editor(editor, plan_hromada_id(conn, plan_id))
    plan = _editable_plan(conn, plan_id)
    values = _attributes(conn, attributes, full=True)
    geom = _geometry(conn, geometry, repair=repair)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": plan_id})  # one writer of a plan's zones
    check_zone(conn, plan_id, geom)
    _who(conn, editor, reason)
    zone_id = conn.execute(sa.text(f"""
        INSERT INTO plan_zone (hromada_id, plan_id, {', '.join(ATTRIBUTES)}, version, updated_at, published, geom)
        VALUES (:h, :plan, {', '.join(':' + a for a in ATTRIBUTES)}, 1, now(), :pub, ST_GeomFromEWKB(:g))
        RETURNING id"""), {"h": plan["hromada_id"], "plan": plan_id, "pub": plan["status"] != "draft",
                           "g": geom, **values}).scalar_one()
    return get_zone(conn, zone_id, roles=EDITORS)


def update_zone(conn: sa.Connection, editor: Editor, zone_id: int, expected_version: int, *,
                attributes: dict | None = None, geometry: dict | None = None, replace: bool = False,
                reason: str | None = None, repair: bool = False) -> dict:
    """Change a zone that still has ``expected_version``; else VersionConflict (412) with the current one.

    ``replace``: the attributes given are the whole set (missing ones become empty), as PUT does.
    """
    require_editor(editor, zone_hromada_id(conn, zone_id))
    current = conn.execute(sa.text("SELECT plan_id FROM plan_zone WHERE id = :id"), {"id": zone_id}).first()
    if current is None:
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    _editable_plan(conn, current.plan_id)
    values = _attributes(conn, attributes or {}, full=replace)
    params = {"id": zone_id, "v": int(expected_version), **values}
    sets = [f"{k} = :{k}" for k in values]
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": current.plan_id})
    if geometry is not None:
        geom = _geometry(conn, geometry, repair=repair)
        check_zone(conn, current.plan_id, geom, zone_id)
        sets.append("geom = ST_GeomFromEWKB(:g)")
        params["g"] = geom
    if not sets:
        raise InvalidInput("Нічого не змінено", "Nothing to change")
    _who(conn, editor, reason)
    updated = conn.execute(sa.text(f"""
        UPDATE plan_zone SET {', '.join(sets)}, version = version + 1, updated_at = now()
        WHERE id = :id AND version = :v RETURNING id"""), params).first()
    if updated is None:
        raise VersionConflict(get_zone(conn, zone_id, roles=EDITORS))
    return get_zone(conn, zone_id, roles=EDITORS)


def delete_zone(conn: sa.Connection, editor: Editor, zone_id: int, expected_version: int, *,
                reason: str | None = None) -> None:
    require_editor(editor, zone_hromada_id(conn, zone_id))
    current = conn.execute(sa.text("SELECT plan_id FROM plan_zone WHERE id = :id"), {"id": zone_id}).first()
    if current is None:
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    _editable_plan(conn, current.plan_id)
    _who(conn, editor, reason)
    deleted = conn.execute(sa.text("DELETE FROM plan_zone WHERE id = :id AND version = :v RETURNING id"),
                           {"id": zone_id, "v": int(expected_version)}).first()
    if deleted is None:
        raise VersionConflict(get_zone(conn, zone_id, roles=EDITORS))


def split_zone(conn: sa.Connection, editor: Editor, zone_id: int, expected_version: int, line: dict, *,
               reason: str | None = None) -> list[dict]:
    """Cut a zone in two along a line: the zone keeps the larger part, a new zone (same attributes)
    takes the other. A line that does not cut the zone in two is a 422."""
    require_editor(editor, zone_hromada_id(conn, zone_id))
    zone = get_zone(conn, zone_id, roles=EDITORS)
    parts = conn.execute(sa.text("""
        WITH z AS (SELECT geom FROM plan_zone WHERE id = :id),
             cut AS (SELECT (ST_Dump(ST_Split(ST_Union(z.geom), ST_SetSRID(ST_GeomFromGeoJSON(:line), 4326)))).geom AS g
                     FROM z)
        SELECT ST_AsGeoJSON(g, 9) AS part FROM cut ORDER BY ST_Area(g::geography) DESC"""),
        {"id": zone_id, "line": json.dumps(line)}).scalars().all()
    if len(parts) != 2:
        raise Unprocessable(f"Лінія має розрізати зону на дві частини, а не на {len(parts)}",
                            f"The line must cut the zone in two, not in {len(parts)}")
    larger, smaller = (json.loads(p) for p in parts)
    kept = update_zone(conn, editor, zone_id, expected_version, geometry=larger, reason=reason or "поділ / split")
    new = create_zone(conn, editor, zone["plan_id"], {k: zone[k] for k in ATTRIBUTES}, smaller,
                      reason=reason or f"поділ зони {zone_id} / split of zone {zone_id}")
    return [kept, new]


# --- history ---------------------------------------------------------------------------------------

def zone_history(conn: sa.Connection, zone_id: int, *, roles=frozenset()) -> list[dict]:
    """Every version of a zone, newest first: who (the name recorded then, else the account's name or
    e-mail now), when, from when it counts (``valid_from``, when not from ``at``), why, what."""
    rows = conn.execute(sa.text("""
        SELECT v.version, v.operation, v.changed_at, v.valid_from, v.reason, v.attributes, v.plan_id,
               COALESCE(v.author, NULLIF(btrim(a.full_name), ''), a.email) AS author,
               ST_AsGeoJSON(ST_GeomFromEWKB(decode(v.geom, 'hex')), 9) AS geojson
        FROM plan_zone_version v LEFT JOIN app_user a ON a.id = v.user_id
        WHERE v.zone_id = :id ORDER BY v.version DESC"""), {"id": zone_id}).mappings().all()
    if not rows:
        raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")
    _visible_plan(conn, rows[0]["plan_id"], roles)
    return [{"version": r["version"], "operation": r["operation"], "at": r["changed_at"].isoformat(),
             "valid_from": r["valid_from"].isoformat() if r["valid_from"] else None,
             "reason": r["reason"], "by": r["author"], "attributes": r["attributes"],
             "geometry": json.loads(r["geojson"]) if r["geojson"] else None} for r in rows]


def _visible_plan(conn: sa.Connection, plan_id: int, roles) -> sa.RowMapping:
    plan = _plan(conn, plan_id)
    if plan["status"] == "draft" and not set(roles) & EDITORS:
        raise NotFound(f"Плану {plan_id} немає", f"Plan {plan_id} does not exist")
    return plan


def zones_as_of(conn: sa.Connection, plan_id: int, when: dt.datetime, *, roles=frozenset()) -> dict[int, dict]:
    """The plan's zones as they were at ``when``: zone id → its version then (deleted ones left out).
    A version counts from its ``valid_from`` when it has one (a plan loaded after its approval), else
    from when it was written."""
    _visible_plan(conn, plan_id, roles)
    rows = conn.execute(sa.text("""
        SELECT DISTINCT ON (zone_id) zone_id, version, operation, attributes,
               ST_AsGeoJSON(ST_GeomFromEWKB(decode(geom, 'hex')), 9) AS geojson
        FROM plan_zone_version WHERE plan_id = :plan AND COALESCE(valid_from, changed_at) <= :t
        ORDER BY zone_id, version DESC"""), {"plan": plan_id, "t": when}).mappings()
    return {r["zone_id"]: {"version": r["version"], "attributes": r["attributes"],
                           "geometry": json.loads(r["geojson"])}
            for r in rows if r["operation"] != "delete"}


def diff(conn: sa.Connection, plan_id: int, since: dt.datetime, until: dt.datetime, *,
         roles=frozenset()) -> dict:
    """Zones added, removed and changed between two moments (each with its geometry then)."""
    before = zones_as_of(conn, plan_id, since, roles=roles)
    after = zones_as_of(conn, plan_id, until, roles=roles)
    return {
        "added": {zid: after[zid] for zid in after.keys() - before.keys()},
        "removed": {zid: before[zid] for zid in before.keys() - after.keys()},
        "changed": {zid: {"before": before[zid], "after": after[zid]} for zid in before.keys() & after.keys()
                    if before[zid]["version"] != after[zid]["version"]},
    }


def revert(conn: sa.Connection, editor: Editor, zone_id: int, to_version: int, *, reason: str | None = None) -> dict:
    """Bring a zone back to an earlier version, as a new version (a deleted zone comes back)."""
    require_editor(editor, zone_hromada_id(conn, zone_id))
    old = conn.execute(sa.text("""
        SELECT plan_id, attributes, geom, operation FROM plan_zone_version WHERE zone_id = :id AND version = :v"""),
        {"id": zone_id, "v": to_version}).mappings().first()
    if old is None or old["operation"] == "delete":
        raise NotFound(f"Версії {to_version} зони {zone_id} немає", f"Zone {zone_id} has no version {to_version}")
    plan = _editable_plan(conn, old["plan_id"])
    why = reason or f"повернення до версії {to_version} / revert to version {to_version}"
    geom = bytes.fromhex(old["geom"])
    values = {k: old["attributes"].get(k) for k in ATTRIBUTES}
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": old["plan_id"]})
    check_zone(conn, old["plan_id"], geom, zone_id)
    _who(conn, editor, why)
    conn.execute(sa.text("SELECT set_config('hromada.operation', 'revert', true)"))
    current = conn.execute(sa.text("SELECT version FROM plan_zone WHERE id = :id"), {"id": zone_id}).scalar()
    if current is None:  # deleted since: it comes back under its own id, with the next version number
        last = conn.execute(sa.text("SELECT max(version) FROM plan_zone_version WHERE zone_id = :id"),
                            {"id": zone_id}).scalar()
        conn.execute(sa.text(f"""
            INSERT INTO plan_zone (id, hromada_id, plan_id, {', '.join(ATTRIBUTES)}, """
            f"""version, updated_at, published, geom)
            VALUES (:id, :h, :plan, {', '.join(':' + a for a in ATTRIBUTES)}, :v, now(), :pub, ST_GeomFromEWKB(:g))"""),
            {"id": zone_id, "h": plan["hromada_id"], "plan": old["plan_id"], "v": last + 1,
             "pub": plan["status"] != "draft", "g": geom, **values})
    else:
        conn.execute(sa.text(f"""
            UPDATE plan_zone SET {', '.join(f'{k} = :{k}' for k in ATTRIBUTES)}, geom = ST_GeomFromEWKB(:g),
                   version = version + 1, updated_at = now() WHERE id = :id"""), {"id": zone_id, "g": geom, **values})
    return get_zone(conn, zone_id, roles=EDITORS)


# --- plan pages and public comments (issue #9, browser part) -----------------------------------------

COMMENT_MAX_CHARS = 4000


def list_plans(conn: sa.Connection, hromada_id: int, *, roles=frozenset()) -> list[dict]:
    """The hromada's plans, newest first; drafts only for planners and admins."""
    rows = conn.execute(sa.text("""
        SELECT p.id, p.title, p.plan_type, p.status, p.decision_number, p.decision_date, p.is_demo,
               (SELECT count(*) FROM plan_zone z WHERE z.plan_id = p.id) AS zones
        FROM plan p WHERE p.hromada_id = :h AND (p.status <> 'draft' OR :editor)
        ORDER BY p.id DESC"""), {"h": hromada_id, "editor": bool(set(roles) & EDITORS)}).mappings()
    return [dict(r) for r in rows]


def get_plan(conn: sa.Connection, plan_id: int, *, roles=frozenset()) -> dict:
    """A plan with its hromada's code and its area (GeoJSON); a draft is a 404 for everyone but planners."""
    _visible_plan(conn, plan_id, roles)
    row = conn.execute(sa.text("""
        SELECT p.id, p.hromada_id, p.title, p.plan_type, p.status, p.decision_number, p.decision_date,
               p.documents, p.is_demo, h.katottg, h.name_uk AS hromada_uk, h.name_en AS hromada_en,
               ST_AsGeoJSON(p.geom, 7) AS area, ST_XMin(p.geom) AS minx, ST_YMin(p.geom) AS miny,
               ST_XMax(p.geom) AS maxx, ST_YMax(p.geom) AS maxy
        FROM plan p LEFT JOIN hromada h ON h.id = p.hromada_id WHERE p.id = :id"""), {"id": plan_id}).mappings().one()
    plan = dict(row)
    plan["area"] = json.loads(plan["area"])
    plan["editable"] = plan["status"] not in READ_ONLY
    return plan


def current_zones(conn: sa.Connection, plan_id: int, *, roles=frozenset()) -> list[dict]:
    """The plan's zones now, by code then id (the plan must be visible to ``roles``)."""
    _visible_plan(conn, plan_id, roles)
    rows = conn.execute(sa.text("""
        SELECT z.*, ST_AsGeoJSON(z.geom, 9) AS geojson FROM plan_zone z WHERE z.plan_id = :p
        ORDER BY z.zone_code, z.id"""), {"p": plan_id}).mappings()
    return [_zone_dict(r) for r in rows]


def zone_classes(conn: sa.Connection) -> list[dict]:
    """The classifier's active codes with both names and the colour."""
    return [dict(r) for r in conn.execute(sa.text(
        "SELECT code, name_uk, name_en, colour FROM zone_class WHERE is_active ORDER BY code")).mappings()]


def add_comment(conn: sa.Connection, plan_id: int, text: str, *, author_name: str | None = None,
                author_email: str | None = None, zone_id: int | None = None) -> int:
    """A resident's comment on a plan in public discussion; it waits for moderation (``pending``).

    A draft plan is a 404 (the public does not know it); any other plan not in discussion is a 409.
    Empty or over-long text, a malformed e-mail or a zone of another plan is a 400.
    """
    plan = _visible_plan(conn, plan_id, frozenset())
    if plan["status"] != "discussion":
        raise Conflict(f"План «{plan['title']}» не на громадському обговоренні: коментарі не приймаються",
                       f"Plan “{plan['title']}” is not in public discussion: comments are closed")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Коментар порожній", "The comment is empty")
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidInput(f"Коментар довший за {COMMENT_MAX_CHARS} знаків",
                           f"The comment is longer than {COMMENT_MAX_CHARS} characters")
    email = (author_email or "").strip() or None
    if email and ("@" not in email or len(email) > 320 or any(c.isspace() for c in email)):
        raise InvalidInput("Неправильна адреса ел. пошти", "Invalid e-mail address")
    if zone_id is not None and conn.execute(sa.text("SELECT 1 FROM plan_zone WHERE id = :z AND plan_id = :p"),
                                            {"z": zone_id, "p": plan_id}).first() is None:
        raise InvalidInput(f"Зона {zone_id} не належить плану", f"Zone {zone_id} is not in this plan")
    return conn.execute(sa.insert(plan_comment).values(
        plan_id=plan_id, zone_id=zone_id, text=text, author_name=(author_name or "").strip()[:200] or None,
        author_email=email).returning(plan_comment.c.id)).scalar_one()


def moderate_comment(conn: sa.Connection, editor: Editor, comment_id: int, *, approve: bool) -> int:
    """Approve (shown publicly) or reject a comment; returns its plan's id. Planners and admins only."""
    plan_id = conn.execute(sa.text("SELECT plan_id FROM plan_comment WHERE id = :c"), {"c": comment_id}).scalar()
    if plan_id is None:
        raise NotFound(f"Коментаря {comment_id} немає", f"Comment {comment_id} does not exist")
    require_editor(editor, plan_hromada_id(conn, plan_id))
    plan_id = conn.execute(sa.update(plan_comment).where(plan_comment.c.id == comment_id).values(
        status="approved" if approve else "rejected", moderated_by=editor.user_id,
    ).returning(plan_comment.c.plan_id)).scalar()
    if plan_id is None:
        raise NotFound(f"Коментаря {comment_id} немає", f"Comment {comment_id} does not exist")
    return plan_id


def comments(conn: sa.Connection, plan_id: int, *, public: bool = True) -> list[dict]:
    """Approved comments, oldest first, without e-mail (``public``); else every comment with the
    author's e-mail and status, for moderation."""
    query = sa.select(plan_comment).where(plan_comment.c.plan_id == plan_id).order_by(plan_comment.c.created_at,
                                                                                      plan_comment.c.id)
    if public:
        query = query.where(plan_comment.c.status == "approved")
    out = []
    for row in conn.execute(query).mappings():
        item = {"id": row["id"], "zone_id": row["zone_id"], "text": row["text"], "author_name": row["author_name"],
                "created_at": row["created_at"]}
        if not public:
            item.update(author_email=row["author_email"], status=row["status"])
        out.append(item)
    return out
