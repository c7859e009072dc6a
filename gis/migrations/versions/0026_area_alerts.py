"""Alerts for an area: subscriptions to a village, district or drawn area; announcements (#18)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 16:00:00
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql as pg

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

FREQUENCIES = ("immediate", "daily")
SCOPES = ("hromada", "settlement", "district", "area")
KINDS = ("power_outage", "water_outage", "road_works", "emergency", "other")


def _multipolygon() -> Geometry:
    return Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=op.f(f"fk_{table}_{column}_{target}"))


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "area_subscription",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hromada_id", sa.Integer, _fk("area_subscription", "hromada_id", "hromada", "CASCADE"),
                  nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("settlement_id", sa.Integer, _fk("area_subscription", "settlement_id", "settlement", "SET NULL")),
        sa.Column("district_id", sa.Integer,
                  _fk("area_subscription", "district_id", "starosta_district", "SET NULL")),
        sa.Column("area", _multipolygon(), nullable=False),
        sa.Column("place_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("categories", pg.ARRAY(sa.Text)),
        sa.Column("frequency", sa.Text, nullable=False, server_default="immediate"),
        sa.Column("feed_token", sa.Text, nullable=False),
        _created_at(),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_subscription")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_area_subscription_lower")),
        sa.CheckConstraint(f"frequency IN {FREQUENCIES}", name=op.f("ck_area_subscription_frequency")),
        sa.CheckConstraint(f"scope IN {SCOPES}", name=op.f("ck_area_subscription_scope")),
        sa.UniqueConstraint("email", "place_key", name=op.f("uq_area_subscription_email_place_key")),
        sa.UniqueConstraint("feed_token", name=op.f("uq_area_subscription_feed_token")),
    )
    op.create_index(op.f("ix_area_subscription_hromada_id"), "area_subscription", ["hromada_id"])
    op.create_index(op.f("ix_area_subscription_area"), "area_subscription", ["area"], postgresql_using="gist")

    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hromada_id", sa.Integer, _fk("announcement", "hromada_id", "hromada", "CASCADE"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title_uk", sa.Text, nullable=False),
        sa.Column("title_en", sa.Text),
        sa.Column("body_uk", sa.Text, nullable=False),
        sa.Column("body_en", sa.Text),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("settlement_id", sa.Integer, _fk("announcement", "settlement_id", "settlement", "SET NULL")),
        sa.Column("district_id", sa.Integer, _fk("announcement", "district_id", "starosta_district", "SET NULL")),
        sa.Column("place_uk", sa.Text, nullable=False),
        sa.Column("place_en", sa.Text, nullable=False),
        sa.Column("area", _multipolygon(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer, _fk("announcement", "created_by", "app_user", "SET NULL")),
        _created_at(),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f("ck_announcement_kind")),
        sa.CheckConstraint(f"scope IN {SCOPES}", name=op.f("ck_announcement_scope")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_announcement_span")),
    )
    op.create_index(op.f("ix_announcement_hromada_id_ends_at"), "announcement", ["hromada_id", "ends_at"])
    op.create_index(op.f("ix_announcement_area"), "announcement", ["area"], postgresql_using="gist")

    op.create_table(
        "area_alert",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("subscription_id", sa.Integer,
                  _fk("area_alert", "subscription_id", "area_subscription", "CASCADE"), nullable=False),
        sa.Column("report_id", sa.Integer, _fk("area_alert", "report_id", "report", "CASCADE")),
        sa.Column("announcement_id", sa.Integer, _fk("area_alert", "announcement_id", "announcement", "CASCADE")),
        _created_at(),
        sa.Column("digested_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area_alert")),
        sa.CheckConstraint("num_nonnulls(report_id, announcement_id) = 1", name=op.f("ck_area_alert_one_subject")),
        sa.UniqueConstraint("subscription_id", "report_id", name=op.f("uq_area_alert_subscription_id_report_id")),
        sa.UniqueConstraint("subscription_id", "announcement_id",
                            name=op.f("uq_area_alert_subscription_id_announcement_id")),
    )
    op.create_index(op.f("ix_area_alert_subscription_id_digested_at"), "area_alert",
                    ["subscription_id", "digested_at"])


def downgrade() -> None:
    op.drop_table("area_alert")
    op.drop_table("announcement")
    op.drop_table("area_subscription")
