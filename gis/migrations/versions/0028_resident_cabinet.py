"""The resident's cabinet: sign-in links, notification settings, digests of followed reports, erasure (#18)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report", sa.Column("reporter_erased_at", sa.DateTime(timezone=True)))
    op.create_table(
        "resident_link",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_resident_link_lower")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_resident_link_token_hash")),
    )
    op.create_index("ix_resident_link_email_created_at", "resident_link", ["email", "created_at"])
    op.create_table(
        "resident_setting",
        sa.Column("email", sa.Text, primary_key=True),
        sa.Column("report_updates", sa.Text, nullable=False, server_default="immediate"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_resident_setting_lower")),
        sa.CheckConstraint("report_updates IN ('immediate', 'daily')", name=op.f("ck_resident_setting_report_updates")),
    )
    op.create_table(
        "follower_digest_item",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey(
            "report_subscriber.id", ondelete="CASCADE", name=op.f("fk_follower_digest_item_subscriber_id_report_subscriber")),
            nullable=False),
        sa.Column("event_key", sa.Text, nullable=False),
        sa.Column("lines_uk", sa.Text, nullable=False),
        sa.Column("lines_en", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("digested_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("subscriber_id", "event_key", name=op.f("uq_follower_digest_item_subscriber_id_event_key")),
    )
    op.create_index("ix_follower_digest_item_digested_at", "follower_digest_item", ["digested_at"])


def downgrade() -> None:
    op.drop_table("follower_digest_item")
    op.drop_table("resident_setting")
    op.drop_table("resident_link")
    op.drop_column("report", "reporter_erased_at")
