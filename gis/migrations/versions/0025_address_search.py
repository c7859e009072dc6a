"""Find a place by address: pg_trgm, streets, address points, villages' search names (layers.places, #17)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 10:00:00
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

TABLES = ("street", "address_point")


def _common_columns(table: str) -> list:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE",
                                                          name=op.f(f"fk_{table}_hromada_id_hromada")),
                  nullable=False),
        sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL",
                                                             name=op.f(f"fk_{table}_settlement_id_settlement"))),
    ]


def _common_tail(table: str) -> list:
    return [
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_ref", sa.Text, nullable=False),
        *([sa.Column("osm_id", sa.Text)] if table == "address_point" else []),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("hromada_id", "source_ref", name=op.f(f"uq_{table}_hromada_id_source_ref")),
    ]


# A village's name as the address search compares it (gis.models.name_key_sql when this was written).
SETTLEMENT_SEARCH = ("regexp_replace(translate(lower(name_uk), '''’ʼ`´‘ʹ′ʻ', ''), "
                     "'[-[:space:]]+', ' ', 'g')")


def upgrade() -> None:
    # A trusted extension (PostgreSQL 13+): the database owner may create it, no superuser needed.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("settlement", sa.Column("search", sa.Text, sa.Computed(SETTLEMENT_SEARCH, persisted=True)))
    for column in ("search", "name_en"):
        op.create_index(op.f(f"ix_settlement_{column}"), "settlement", [column], postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})
    op.create_table(
        "street",
        *_common_columns("street"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("search", sa.Text, nullable=False),
        sa.Column("geom", Geometry("MULTILINESTRING", srid=4326, spatial_index=False), nullable=False),
        *_common_tail("street"),
    )
    op.create_table(
        "address_point",
        *_common_columns("address_point"),
        sa.Column("street", sa.Text),
        sa.Column("place", sa.Text),
        sa.Column("housenumber", sa.Text, nullable=False),
        sa.Column("search", sa.Text, nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        *_common_tail("address_point"),
    )
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_settlement_id"), table, ["settlement_id"])
        op.create_index(op.f(f"ix_{table}_geom"), table, ["geom"], postgresql_using="gist")
        op.create_index(op.f(f"ix_{table}_search"), table, ["search"], postgresql_using="gin",
                        postgresql_ops={"search": "gin_trgm_ops"})


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.drop_index(op.f("ix_settlement_name_en"), "settlement")
    op.drop_index(op.f("ix_settlement_search"), "settlement")
    op.drop_column("settlement", "search")
    # pg_trgm stays: it may have been there before (CREATE EXTENSION IF NOT EXISTS), and dropping an
    # extension someone else relies on is not this migration's to do.
