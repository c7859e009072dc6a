"""The foundation schema, as SQLAlchemy Core tables.

Geometry is stored in EPSG:4326 with GiST indexes; metric lengths and areas are computed on the
fly in a UCS-2000 TM zone (gis.crs). Alembic migrations create exactly these tables; a test checks
that models and migrations agree.
"""
from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

SRID = 4326
# Roles are held per hromada (role_grant), except the national operator's, which has none.
HROMADA_ROLES = ("admin", "unit_staff", "planner")
OPERATOR = "operator"
ROLES = (OPERATOR, *HROMADA_ROLES)
UNIT_KINDS = ("department", "enterprise", "starosta_district", "outside_body", "other")
UNIT_NOTIFY_MODES = ("each", "digest")  # every report at once, or one mail a day
ASSIGNMENT_SCOPES = ("hromada", "district", "villages", "area")
SETTLEMENT_KINDS = ("city", "town", "village", "hamlet", "other")
KATOTTG_PATTERN = "^UA[0-9]{17}$"

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def geometry(kind: str) -> Geometry:
    # Indexes are declared explicitly below so migrations and models stay identical.
    return Geometry(kind, srid=SRID, spatial_index=False)


def gist(table: str, column: str) -> sa.Index:
    return sa.Index(f"ix_{table}_{column}", column, postgresql_using="gist")


def trigram(table: str, column: str) -> sa.Index:
    """A GIN index of pg_trgm's trigrams: typo-tolerant search (similarity, %, %>) on ``column``."""
    return sa.Index(f"ix_{table}_{column}", column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


APOSTROPHES = "'’ʼ`´‘ʹ′ʻ"  # however an apostrophe was typed, it is dropped for searching (layers.places)


def name_key_sql(column: str) -> str:
    """SQL: a name as layers.places.normalise writes a village's name (lower case, no apostrophes,
    hyphens and runs of spaces one space): "Слобода-Дашковецька" → "слобода дашковецька"."""
    quoted = APOSTROPHES.replace("'", "''")
    return f"regexp_replace(translate(lower({column}), '{quoted}', ''), '[-[:space:]]+', ' ', 'g')"


def delivery_columns() -> list:
    """The state of a message being delivered with retries (gis.outbox for mail, layers.telegram_channel
    for chats): pending → sending (leased until ``locked_until``) → sent, or failed after its attempts."""
    return [
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
    ]


def created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.now())


hromada = sa.Table(
    "hromada", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("katottg", sa.String(19), nullable=False, unique=True),
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("koatuu", sa.Text),
    sa.Column("oblast", sa.Text),
    sa.Column("raion", sa.Text),
    sa.Column("population", sa.Integer),
    sa.Column("wikidata", sa.Text),
    sa.Column("boundary", geometry("MULTIPOLYGON"), nullable=False),
    sa.Column("boundary_repaired", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source", sa.Text),
    # The letters before a report's tracking code (ЯК-2026-000123), unique across the country: many
    # hromadas share their first two letters. Given at the hromada's first report (layers.reports).
    sa.Column("report_prefix", sa.Text, unique=True),
    created_at(),
    sa.CheckConstraint(f"katottg ~ '{KATOTTG_PATTERN}'", name="katottg_format"),
    gist("hromada", "boundary"),
)

# Each hromada's boundary cut into pieces of at most HROMADA_PART_VERTICES vertices (ST_Subdivide):
# "which hromada contains this point" becomes a lookup on pieces instead of a test against a boundary
# of tens of thousands of vertices. Kept in step by importers.communities.
HROMADA_PART_VERTICES = 4096
hromada_part = sa.Table(
    "hromada_part", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("hromada_area", sa.Float, nullable=False),  # smaller first, should boundaries overlap
    sa.Column("geom", geometry("POLYGON"), nullable=False),
    sa.Index("ix_hromada_part_hromada_id", "hromada_id"),
    gist("hromada_part", "geom"),
)

settlement = sa.Table(
    "settlement", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("kind", sa.Text, nullable=False, server_default="village"),
    sa.Column("katottg", sa.String(19)),
    sa.Column("population", sa.Integer),
    sa.Column("source_ref", sa.Text),  # e.g. "relation/4702550" for OpenStreetMap
    sa.Column("boundary", geometry("MULTIPOLYGON")),
    sa.Column("centre", geometry("POINT")),
    # The name as the address search compares it (layers.places), kept by the database itself.
    sa.Column("search", sa.Text, sa.Computed(name_key_sql("name_uk"), persisted=True)),
    sa.CheckConstraint("boundary IS NOT NULL OR centre IS NOT NULL", name="has_geometry"),
    sa.CheckConstraint(f"kind IN {SETTLEMENT_KINDS}", name="kind"),
    sa.UniqueConstraint("hromada_id", "source_ref"),
    sa.Index("ix_settlement_hromada_id", "hromada_id"),
    gist("settlement", "boundary"),
    gist("settlement", "centre"),
    trigram("settlement", "search"),
    trigram("settlement", "name_en"),
)

unit = sa.Table(
    "unit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.Text, nullable=False),  # short stable name within the hromada
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("emails", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
    sa.Column("phone", sa.Text),
    # False: an outside body reached by e-mail only; it acts through signed links in its mail.
    sa.Column("has_accounts", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("notify_mode", sa.Text, nullable=False, server_default="each"),
    sa.Column("service_area", geometry("MULTIPOLYGON")),
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
    created_at(),
    sa.CheckConstraint(f"kind IN {UNIT_KINDS}", name="kind"),
    sa.CheckConstraint(f"notify_mode IN {UNIT_NOTIFY_MODES}", name="notify_mode"),
    sa.UniqueConstraint("hromada_id", "code"),
    gist("unit", "service_area"),
)

category = sa.Table(
    "category", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text, nullable=False),
    sa.Column("layer", sa.Text),  # the layer whose assets it concerns, if any
    sa.Column("target_days", sa.Integer, nullable=False, server_default="10"),
    # "Is it fixed?" goes to the reporter this many days after a report of it is resolved.
    sa.Column("ask_fixed_after_days", sa.Integer, nullable=False, server_default="28"),
    # A new report of it is public only once staff approve it.
    sa.Column("premoderate", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("asset_kind", sa.Text),  # reports of it go to the owner of a nearby asset of this kind
    sa.Column("snap_distance_m", sa.Integer, nullable=False, server_default="25"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # NULL: the national catalogue (layers.categories); else a hromada's own local category.
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE")),
    sa.CheckConstraint("ask_fixed_after_days > 0", name="ask_fixed_after_days_positive"),
)

# Starosta districts (старостинські округи): groups of the hromada's settlements.
starosta_district = sa.Table(
    "starosta_district", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.UniqueConstraint("hromada_id", "code"),
)

district_settlement = sa.Table(
    "district_settlement", metadata,
    sa.Column("district_id", sa.Integer, sa.ForeignKey("starosta_district.id", ondelete="CASCADE"),
              primary_key=True),
    # A settlement belongs to at most one district.
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="CASCADE"),
              primary_key=True, unique=True),
)

# Which unit handles which category where. scope says how the place was given: the whole hromada
# (area NULL: the hromada's default for that category), a starosta district, chosen villages, or
# an area drawn on the map. For districts and villages ``area`` is derived (gis.hromada_setup) from
# the villages' cells, so routing only ever tests ``area``.
unit_category = sa.Table(
    "unit_category", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), nullable=False),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE"), nullable=False),
    sa.Column("scope", sa.Text, nullable=False, server_default="hromada"),
    sa.Column("district_id", sa.Integer, sa.ForeignKey("starosta_district.id", ondelete="CASCADE")),
    sa.Column("settlement_ids", pg.ARRAY(sa.Integer)),
    sa.Column("area", geometry("MULTIPOLYGON")),
    sa.CheckConstraint(f"scope IN {ASSIGNMENT_SCOPES}", name="scope"),
    sa.CheckConstraint("(scope = 'district') = (district_id IS NOT NULL)", name="district_scope"),
    sa.CheckConstraint("(scope = 'villages') = (settlement_ids IS NOT NULL)", name="villages_scope"),
    sa.Index("ix_unit_category_category_id", "category_id"),
    sa.Index("ix_unit_category_unit_id", "unit_id"),
    gist("unit_category", "area"),
)

# A hromada's own settings: whether it takes reports yet (the operator enables it) and the unit
# that gets a report no rule covers.
hromada_setup = sa.Table(
    "hromada_setup", metadata,
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("enabled_at", sa.DateTime(timezone=True)),
    sa.Column("default_unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="SET NULL")),
)

# A catalogue category turned off for a hromada, or given its own target time there.
hromada_category = sa.Table(
    "hromada_category", metadata,
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("target_days", sa.Integer),
    sa.Column("premoderate", sa.Boolean),  # NULL: the category's own setting
    sa.CheckConstraint("target_days IS NULL OR target_days BETWEEN 1 AND 365", name="target_days"),
)

# Texts staff insert into a public note and edit before sending, per hromada (and category, or any).
response_template = sa.Table(
    "response_template", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE")),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    created_at(),
)

# A hromada's own non-working days (a local holiday, a day the council declared off), on top of
# weekends and Ukraine's public holidays (gis.working_days).
hromada_day_off = sa.Table(
    "hromada_day_off", metadata,
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("note", sa.Text),
)

app_user = sa.Table(
    "app_user", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("full_name", sa.Text),
    sa.Column("password_hash", sa.Text),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Goes up when the account is switched off: with the password hash it makes the session's
    # auth epoch (webmap.access), so older sessions end for good.
    sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    created_at(),
    sa.Index("uq_app_user_email_lower", sa.text("lower(email)"), unique=True),
)

# Roles per hromada: one person may be admin of one hromada and planner in another. The
# operator's role is national (hromada_id NULL).
role_grant = sa.Table(
    "role_grant", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE")),
    sa.Column("role", sa.Text, nullable=False),
    created_at(),
    sa.CheckConstraint(f"role IN {ROLES}", name="role"),
    sa.CheckConstraint(f"(role = '{OPERATOR}') = (hromada_id IS NULL)", name="operator_is_national"),
    sa.Index("uq_role_grant_user_id_hromada_id_role", "user_id", sa.text("COALESCE(hromada_id, 0)"), "role",
             unique=True),
    sa.Index("ix_role_grant_hromada_id", "hromada_id"),
)

# One-time links by e-mail: an invitation to set a first password, or a password reset.
account_token = sa.Table(
    "account_token", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    created_at(),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),
    sa.Index("ix_account_token_user_id", "user_id"),
)

# Who changed what in a hromada's set-up and accounts (read by its administrator), and every use
# of a unit's signed link.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE")),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("actor", sa.Text, nullable=False),  # e-mail of the user, or e.g. "link: road_service"
    sa.Column("action", sa.Text, nullable=False),  # e.g. unit.update, assignment.create, setup.apply
    sa.Column("object", sa.Text),  # what it touched, in words (a unit's code, a report's code)
    sa.Column("detail", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    created_at(),
    sa.Index("ix_audit_log_hromada_id_created_at", "hromada_id", "created_at"),
)

# Unit staff are bound to the units whose queues they work.
staff_membership = sa.Table(
    "staff_membership", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True),
)


# --- Open city: assets, reports, their history and notifications ---------------------------------

REPORT_STATUSES = ("new", "acknowledged", "in_progress", "resolved", "rejected", "duplicate", "reopened")
ROUTING_RULES = ("asset", "area", "default")

# Things a report can be about: lamps, road segments, … A trigger on each asset layer's table
# (``Layer.asset``; function asset_sync, migration 0008) mirrors its features here under the same
# id; routing only needs kind, reference, owner and place.
asset = sa.Table(
    "asset", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("layer_table", sa.Text),  # the table of the feature it mirrors
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("owner_unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="SET NULL")),
    sa.Column("owner_class", sa.Text),  # state, regional, local, communal … (see asset_owner)
    sa.Column("geom", geometry("GEOMETRY"), nullable=False),
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_asset_hromada_id_kind_ref", "hromada_id", "kind", "ref"),
    gist("asset", "geom"),
    # Routing's "in reach" is a geography distance (ST_DWithin(geom::geography, …)), which the geometry
    # index cannot answer: without this, every lamp of a city was tested (130 ms in Kharkiv's 43,866).
    sa.Index("ix_asset_geog", sa.text("(geom::geography)"), postgresql_using="gist"),
)

# Who answers for an asset with no unit of its own, by its owner class: in this hromada, state
# roads → the oblast's road service (an outside body), communal streets → the housing department.
asset_owner = sa.Table(
    "asset_owner", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("asset_kind", sa.Text, nullable=False),
    sa.Column("owner_class", sa.Text, nullable=False),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), nullable=False),
    sa.UniqueConstraint("hromada_id", "asset_kind", "owner_class"),
)

report = sa.Table(
    "report", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),  # tracking code, e.g. ЯК-2026-000123
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("asset_id", sa.Integer, sa.ForeignKey("asset.id", ondelete="SET NULL")),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    sa.Column("location", geometry("POINT"), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # Personal data: staff side only (never in public pages, APIs, tiles or exports).
    sa.Column("reporter_name", sa.Text),
    sa.Column("reporter_email", sa.Text),
    sa.Column("reporter_phone", sa.Text),
    # When the reporter had their name, e-mail and phone erased (the cabinet's "delete my account").
    sa.Column("reporter_erased_at", sa.DateTime(timezone=True)),
    sa.Column("show_name", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("private_token_hash", sa.Text, nullable=False),  # sha256 of the private link's token
    sa.Column("routing_rule", sa.Text, nullable=False),
    sa.Column("routing_reason_uk", sa.Text, nullable=False),
    sa.Column("routing_reason_en", sa.Text, nullable=False),
    sa.Column("duplicate_of_id", sa.Integer, sa.ForeignKey("report.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("fixed_asked_at", sa.DateTime(timezone=True)),  # "is it fixed?" mailed (once)
    sa.Column("fixed_answered_at", sa.DateTime(timezone=True)),  # its link used (it works once)
    # Moderation (layers.moderation): hidden by staff with a reason; waiting for approval (a category
    # with pre-moderation). Nothing of a report that is not public leaves the staff side.
    # The person of the unit who works on it ("my reports"); NULL: the unit as a whole.
    sa.Column("assigned_user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL"), index=True),
    sa.Column("reminded_at", sa.DateTime(timezone=True)),  # the unit reminded before the due day (once)
    sa.Column("escalated_at", sa.DateTime(timezone=True)),  # the administrators told it is overdue (once)
    sa.Column("hidden_reason", sa.Text),
    sa.Column("awaiting_approval", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_public", sa.Boolean, sa.Computed("hidden_reason IS NULL AND NOT awaiting_approval", persisted=True),
              nullable=False),
    sa.CheckConstraint(f"status IN {REPORT_STATUSES}", name="status"),
    sa.CheckConstraint(f"routing_rule IN {ROUTING_RULES}", name="routing_rule"),
    gist("report", "location"),
    sa.Index("ix_report_unit_id_status", "unit_id", "status"),
    # Read per hromada at national size (2 M reports, docs/capacity.md): its dashboard and public lists by
    # time, the staff queue by status and due date; a resident's reports in the cabinet by e-mail.
    sa.Index("ix_report_hromada_id_created_at", "hromada_id", "created_at"),
    sa.Index("ix_report_hromada_id_status_due_at", "hromada_id", "status", "due_at"),
    sa.Index("ix_report_reporter_email_lower", sa.text("lower(reporter_email)")),
    # A hromada's first report checks that no other hromada's code uses the prefix it is to be given
    # (layers.reports.tracking_prefix): without it, a scan of every report (1.6 s at 2 M).
    sa.Index("ix_report_code_prefix", sa.text("split_part(code, '-', 1)")),
    sa.Index("ix_report_category_id_status", "category_id", "status"),
    # One open report per faulty lamp (layers.reports.create_report) and a lamp's state (layers.lighting)
    # look a lamp's reports up: without it, every open report of the category was read.
    sa.Index("ix_report_asset_id", "asset_id", "category_id", postgresql_where=sa.text("asset_id IS NOT NULL")),
)

report_photo = sa.Table(
    "report_photo", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG, EXIF stripped, ≤ 2048 px
    sa.Column("thumb", sa.LargeBinary, nullable=False),  # JPEG, ≤ 320 px
    sa.Column("hidden_at", sa.DateTime(timezone=True)),  # hidden by a moderator: staff-only
    sa.UniqueConstraint("report_id", "position"),
)

report_event = sa.Table(
    "report_event", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("kind", sa.Text, nullable=False),  # created, status, transfer, note, me_too
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text),
    sa.Column("from_unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="SET NULL")),
    sa.Column("to_unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="SET NULL")),
    sa.Column("public_note", sa.Text),
    sa.Column("private_note", sa.Text),  # staff only
    sa.Index("ix_report_event_report_id", "report_id"),
)

report_subscriber = sa.Table(
    "report_subscriber", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("is_reporter", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),  # the one-click unsubscribe of this report
    created_at(),
    sa.Index("uq_report_subscriber_report_email", "report_id", sa.text("lower(email)"), unique=True),
)

# An address that follows reports: mail beyond the confirmation request goes to it only once it has
# confirmed (double opt-in), and none at all once it asked to stop all mail.
mail_address = sa.Table(
    "mail_address", metadata,
    sa.Column("email", sa.Text, primary_key=True),  # lower-cased
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    sa.Column("stopped_at", sa.DateTime(timezone=True)),
    created_at(),
    sa.CheckConstraint("email = lower(email)", name="lower"),
)

# Tracking codes count per hromada and year.
report_counter = sa.Table(
    "report_counter", metadata,
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

# Mail written in the same transaction as the change it tells about; a worker delivers it.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="SET NULL")),
    sa.Column("to_addr", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False, unique=True),
    *delivery_columns(),
    sa.Column("headers", pg.JSONB),  # extra headers, e.g. List-Unsubscribe (RFC 8058)
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

# A report routed or transferred to a unit, to be told to it (layers.unit_mail): at once through the
# outbox, or gathered into the unit's daily digest (digested_at set when that mail is queued).
unit_notice = sa.Table(
    "unit_notice", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), nullable=False),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("report_event.id", ondelete="CASCADE"), nullable=False),
    created_at(),
    sa.Column("digested_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("unit_id", "event_id"),
    sa.Index("ix_unit_notice_unit_id_digested_at", "unit_id", "digested_at"),
)

# A retried POST with the same Idempotency-Key gets the first answer back.
idempotency_key = sa.Table(
    "idempotency_key", metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response", pg.JSONB),
    created_at(),
)


# Every import (or dry run) and what came of it, for the admin's upload page and the CLI.
import_run = sa.Table(
    "import_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    # The hromada an administrator imported into (NULL: from the command line, any hromada).
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE")),
    sa.Column("status", sa.Text, nullable=False),  # done, failed
    sa.Column("report", pg.JSONB, nullable=False),
    created_at(),
)


# Rasters (coverage, signal strength, …) are kept as files; the database holds where each one is,
# its footprint and what it measures. Declared raster layers are in layers/rasters.py.
raster_dataset = sa.Table(
    "raster_dataset", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("file_path", sa.Text, nullable=False),  # relative to the raster store folder
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("crs", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("bands", sa.Integer, nullable=False),
    sa.Column("dtype", sa.Text, nullable=False),
    sa.Column("nodata", sa.Float),
    sa.Column("pixel_size", pg.ARRAY(sa.Float), nullable=False),  # in the raster's CRS units (x, y)
    sa.Column("stats", pg.JSONB, nullable=False),  # per band: min, max, mean, std
    sa.Column("footprint", geometry("MULTIPOLYGON"), nullable=False),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="SET NULL")),
    sa.Column("source", sa.Text),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("layer", "sha256"),
    gist("raster_dataset", "footprint"),
)


# Keys of the client applications that submit reports through the Open311 API (gis.api_keys):
# issued per application by an admin, shown once, stored only as a SHA-256 hash, revocable.
api_key = sa.Table(
    "api_key", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    created_at(),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

# Personal API tokens of signed-in users (a planner's QGIS), gis.user_tokens: like api_key, shown
# once and stored only as a SHA-256 hash; a request with `Authorization: Bearer …` acts as the user.
user_token = sa.Table(
    "user_token", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    created_at(),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


# The local address layer behind "find a place by address" (layers.places, #17): no outside
# geocoder. ``search`` holds the street's (or, for an address given by village alone, the village's)
# name as layers.places.normalise writes it, matched typo-tolerantly by pg_trgm through GIN indexes;
# ``number`` the house number the same way ("12 А" → "12а"), matched exactly. ``source_ref`` names
# a row within its source ("node/123", "demo/…") so that re-importing updates instead of adding.
# Villages are found by ``settlement.search`` (above).
street = sa.Table(
    "street", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL")),
    sa.Column("name", sa.Text, nullable=False),  # as the source writes it: "вулиця Шевченка"
    sa.Column("search", sa.Text, nullable=False),
    sa.Column("geom", geometry("MULTILINESTRING"), nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # osm, demo
    sa.Column("source_ref", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("hromada_id", "source_ref"),
    sa.Index("ix_street_settlement_id", "settlement_id"),
    trigram("street", "search"),
    gist("street", "geom"),
)

address_point = sa.Table(
    "address_point", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL")),
    sa.Column("street", sa.Text),  # NULL: an address by village alone (addr:place), "Якушинці, 12"
    sa.Column("place", sa.Text),  # the village the source names (addr:place, addr:city), as written
    sa.Column("housenumber", sa.Text, nullable=False),  # as the source writes it: "12А"
    sa.Column("search", sa.Text, nullable=False),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("geom", geometry("POINT"), nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # osm, demo
    sa.Column("source_ref", sa.Text, nullable=False),
    sa.Column("osm_id", sa.Text),  # node/123, way/45: the OSM object the point was made from
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("hromada_id", "source_ref"),
    sa.Index("ix_address_point_settlement_id", "settlement_id"),
    trigram("address_point", "search"),
    gist("address_point", "geom"),
)


# --- alerts for an area and announcements (migration 0026, #18) ----------------------------------------
# A resident's subscription (by a confirmed e-mail: layers.area_alerts) to a village, a starosta district,
# the whole hromada or an area drawn on the map. ``area`` is what it covers: drawn (clipped to the
# hromada), or derived when subscribing from the village's or district's cells (gis.hromada_setup
# .settlement_cells) or the boundary. ``place_key`` names the place, so subscribing twice to it is one
# subscription (renewed). ``categories`` NULL: every category. ``feed_token``: its Atom feed's address.
ALERT_FREQUENCIES = ("immediate", "daily")
ALERT_SCOPES = ("hromada", "settlement", "district", "area")
ANNOUNCEMENT_KINDS = ("power_outage", "water_outage", "road_works", "emergency", "other")

area_subscription = sa.Table(
    "area_subscription", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("email", sa.Text, nullable=False),  # lower-cased
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL")),
    sa.Column("district_id", sa.Integer, sa.ForeignKey("starosta_district.id", ondelete="SET NULL")),
    sa.Column("area", geometry("MULTIPOLYGON"), nullable=False),
    sa.Column("place_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),  # the place in words, as the resident chose it
    sa.Column("categories", pg.ARRAY(sa.Text)),
    sa.Column("frequency", sa.Text, nullable=False, server_default="immediate"),
    sa.Column("feed_token", sa.Text, nullable=False, unique=True),
    created_at(),
    sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("email = lower(email)", name="lower"),
    sa.CheckConstraint(f"frequency IN {ALERT_FREQUENCIES}", name="frequency"),
    sa.CheckConstraint(f"scope IN {ALERT_SCOPES}", name="scope"),
    sa.UniqueConstraint("email", "place_key"),
    gist("area_subscription", "area"),
)

# A notice of the hromada's staff for an area and a time span (layers.announcements): on the map, in the
# feeds, and mailed at once to the subscribers of the areas it touches.
announcement = sa.Table(
    "announcement", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title_uk", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text),
    sa.Column("body_uk", sa.Text, nullable=False),
    sa.Column("body_en", sa.Text),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL")),
    sa.Column("district_id", sa.Integer, sa.ForeignKey("starosta_district.id", ondelete="SET NULL")),
    sa.Column("place_uk", sa.Text, nullable=False),
    sa.Column("place_en", sa.Text, nullable=False),
    sa.Column("area", geometry("MULTIPOLYGON"), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    created_at(),
    sa.Column("ended_at", sa.DateTime(timezone=True)),  # ended early by staff
    sa.CheckConstraint(f"kind IN {ANNOUNCEMENT_KINDS}", name="kind"),
    sa.CheckConstraint(f"scope IN {ALERT_SCOPES}", name="scope"),
    sa.CheckConstraint("ends_at > starts_at", name="span"),
    sa.Index("ix_announcement_hromada_id_ends_at", "hromada_id", "ends_at"),
    gist("announcement", "area"),
)

# What a subscription was told: one row per subscription and report (or announcement), so each is told
# exactly once however often the change is retried. ``digested_at``: told (mailed at once, or gathered
# into the day's digest); NULL: waiting for the daily digest.
area_alert = sa.Table(
    "area_alert", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("subscription_id", sa.Integer, sa.ForeignKey("area_subscription.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE")),
    sa.Column("announcement_id", sa.Integer, sa.ForeignKey("announcement.id", ondelete="CASCADE")),
    created_at(),
    sa.Column("digested_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("num_nonnulls(report_id, announcement_id) = 1", name="one_subject"),
    sa.UniqueConstraint("subscription_id", "report_id"),
    sa.UniqueConstraint("subscription_id", "announcement_id"),
    sa.Index("ix_area_alert_subscription_id_digested_at", "subscription_id", "digested_at"),
)


# --- the Telegram bot (migration 0027, #18) ------------------------------------------------------------
# A Telegram chat as a contact channel of a report (layers.telegram_channel): staff-side data like the
# reporter's e-mail, never in a public page, API, export or feed. ``is_reporter``: it filed the report
# (False: it joined an open report on the same lamp, "me too").
report_chat = sa.Table(
    "report_chat", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("language", sa.Text, nullable=False, server_default="uk"),
    sa.Column("is_reporter", sa.Boolean, nullable=False, server_default=sa.true()),
    created_at(),
    sa.UniqueConstraint("report_id", "chat_id"),
    sa.Index("ix_report_chat_chat_id", "chat_id"),
)

# Messages to chats about their reports' public changes, written in the transaction of the change and
# delivered by the bot with retries (as ``outbox`` is for mail); ``key`` makes a retried change queue once.
telegram_outbox = sa.Table(
    "telegram_outbox", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="CASCADE"), nullable=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    *delivery_columns(),
    created_at(),
    sa.Index("ix_telegram_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_telegram_outbox_report_id", "report_id"),
)


# --- the resident's cabinet (migration 0028, #18) ------------------------------------------------------
# A resident's one-time links into the cabinet (layers.cabinet): mailed, single use, short-lived; only
# the token's hash is kept.
resident_link = sa.Table(
    "resident_link", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),  # lower-cased
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    created_at(),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("email = lower(email)", name="lower"),
    sa.Index("ix_resident_link_email_created_at", "email", "created_at"),
)

# How a resident wants news of the reports they follow: at once (no row) or in a daily digest.
resident_setting = sa.Table(
    "resident_setting", metadata,
    sa.Column("email", sa.Text, primary_key=True),  # lower-cased
    sa.Column("report_updates", sa.Text, nullable=False, server_default="immediate"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("email = lower(email)", name="lower"),
    sa.CheckConstraint("report_updates IN ('immediate', 'daily')", name="report_updates"),
)

# News of a followed report kept for a follower's daily digest (layers.followers), mailed once a day.
follower_digest_item = sa.Table(
    "follower_digest_item", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("report_subscriber.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("event_key", sa.Text, nullable=False),
    sa.Column("lines_uk", sa.Text, nullable=False),
    sa.Column("lines_en", sa.Text, nullable=False),
    created_at(),
    sa.Column("digested_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("subscriber_id", "event_key"),
    sa.Index("ix_follower_digest_item_digested_at", "digested_at"),
)

# --- every version of every feature of the layers that keep history (migration 0031, #19) -------------
# Written only by the trigger record_feature_version(), generated from the declarations (layers.history):
# the whole row as it was or is (geometry as GeoJSON), the columns that changed, who, why and what caused
# it (the transaction's hromada.* settings; cause since migration 0032: "report:123", "proposal:45").
# No foreign keys: the history outlives deleted features and users.
feature_version = sa.Table(
    "feature_version", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("feature_id", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # per feature, 1, 2, …
    sa.Column("op", sa.Text, nullable=False),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    sa.Column("valid_to", sa.DateTime(timezone=True)),  # NULL: the current version (or a deletion)
    sa.Column("row", pg.JSONB, nullable=False),
    sa.Column("changed", pg.ARRAY(sa.Text)),
    sa.Column("user_id", sa.Integer),
    sa.Column("user_label", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("versionless", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cause", sa.Text),  # what caused it: "<kind>:<id>" (layers.history.acting)
    sa.CheckConstraint("op IN ('insert', 'update', 'delete')", name="op"),
    sa.Index("ix_feature_version_layer_feature_id_version", "layer", "feature_id", "version", unique=True),
    sa.Index("ix_feature_version_layer_valid_from", "layer", "valid_from"),
    sa.Index("ix_feature_version_layer_feature_id_cause", "layer", "feature_id", "cause"),
)

# A bulk insert's features (migration 0039, #20): instead of an insert version per feature, one row per
# INSERT statement under hromada.bulk_insert (layers.history.inserts_in_bulk) with the ids and what each
# version would have said besides the row — until a feature first changes, its row is its version 1.
feature_insert_batch = sa.Table(
    "feature_insert_batch", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("ids", pg.INT8MULTIRANGE, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("user_label", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("cause", sa.Text),  # "import:<import_run id>"
    sa.Index("ix_feature_insert_batch_layer_id", "layer", "id"),
)

# The clusters of the low-zoom vector tiles, kept by the database (layers.tile_cells, migration 0038):
# per clustered layer, zoom and grid cell (CLUSTER_CELLS a tile side, indexed from EPSG:3857's origin)
# how many of its public features fall in it and one of them. Generated triggers keep it in step.
tile_cell = sa.Table(
    "tile_cell", metadata,
    sa.Column("layer", sa.Text, primary_key=True),
    sa.Column("z", sa.SmallInteger, primary_key=True),
    sa.Column("cx", sa.Integer, primary_key=True),
    sa.Column("cy", sa.Integer, primary_key=True),
    sa.Column("point_count", sa.Integer, nullable=False),
    sa.Column("feature_id", sa.BigInteger),  # the smallest id, until that feature leaves (then another)
)

# The hand-written histories feature_version replaced (migration 0032): lamp_status_change
# (layers.lighting) and venue_history (layers.venue_proposals), kept read-only, and the moment each
# stopped being written — what a layer's history holds before it is in the archive, after it only in
# feature_version.
history_archive = sa.Table(
    "history_archive", metadata,
    sa.Column("name", sa.Text, primary_key=True),  # the archive table
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
)
