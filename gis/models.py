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
ROLES = ("resident", "unit_staff", "planner", "admin")
UNIT_KINDS = ("department", "enterprise", "starosta_district", "outside_body", "other")
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
    created_at(),
    sa.CheckConstraint(f"katottg ~ '{KATOTTG_PATTERN}'", name="katottg_format"),
    gist("hromada", "boundary"),
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
    sa.CheckConstraint("boundary IS NOT NULL OR centre IS NOT NULL", name="has_geometry"),
    sa.CheckConstraint(f"kind IN {SETTLEMENT_KINDS}", name="kind"),
    sa.UniqueConstraint("hromada_id", "source_ref"),
    sa.Index("ix_settlement_hromada_id", "hromada_id"),
    gist("settlement", "boundary"),
    gist("settlement", "centre"),
)

unit = sa.Table(
    "unit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.Text, nullable=False),  # short stable name within the hromada
    sa.Column("name_uk", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("service_area", geometry("MULTIPOLYGON")),
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
    created_at(),
    sa.CheckConstraint(f"kind IN {UNIT_KINDS}", name="kind"),
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
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
)

# Which unit handles which category where. area NULL means "the unit's own service area, or the
# whole hromada when the unit has none" — the hromada's default for that category.
unit_category = sa.Table(
    "unit_category", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), nullable=False),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE"), nullable=False),
    sa.Column("area", geometry("MULTIPOLYGON")),
    sa.UniqueConstraint("unit_id", "category_id"),
    sa.Index("ix_unit_category_category_id", "category_id"),
    gist("unit_category", "area"),
)

app_user = sa.Table(
    "app_user", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("full_name", sa.Text),
    sa.Column("password_hash", sa.Text),
    sa.Column("roles", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{resident}'")),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    created_at(),
    sa.CheckConstraint(
        "roles <@ ARRAY[" + ", ".join(f"'{r}'" for r in ROLES) + "]::text[]", name="known_roles"),
    sa.Index("uq_app_user_email_lower", sa.text("lower(email)"), unique=True),
)

# Unit staff are bound to the units whose queues they work.
staff_membership = sa.Table(
    "staff_membership", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True),
)
