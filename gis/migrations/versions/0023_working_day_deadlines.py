"""Deadlines in working days: a hromada's own days off; a report's reminder and escalation, each once

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 03:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hromada_day_off",
        sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE",
                                                          name=op.f("fk_hromada_day_off_hromada_id_hromada")),
                  primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("note", sa.Text),
    )
    op.add_column("report", sa.Column("reminded_at", sa.DateTime(timezone=True)))
    op.add_column("report", sa.Column("escalated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("report", "escalated_at")
    op.drop_column("report", "reminded_at")
    op.drop_table("hromada_day_off")
