"""Moderation of reports: hidden photos, a hidden report with its reason, pre-moderation per category
(a new report waits for approval); ``is_public`` says whether anything of a report may be shown

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 03:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report", sa.Column("hidden_reason", sa.Text))
    op.add_column("report", sa.Column("awaiting_approval", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("report", sa.Column("is_public", sa.Boolean, sa.Computed(
        "hidden_reason IS NULL AND NOT awaiting_approval", persisted=True), nullable=False))
    op.add_column("report_photo", sa.Column("hidden_at", sa.DateTime(timezone=True)))
    op.add_column("category", sa.Column("premoderate", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("hromada_category", sa.Column("premoderate", sa.Boolean))  # NULL: the category's


def downgrade() -> None:
    op.drop_column("hromada_category", "premoderate")
    op.drop_column("category", "premoderate")
    op.drop_column("report_photo", "hidden_at")
    op.drop_column("report", "is_public")
    op.drop_column("report", "awaiting_approval")
    op.drop_column("report", "hidden_reason")
