"""Residents told at every step and able to stop it: confirmed addresses (double opt-in), "stop all
mail", per-report unsubscribe, extra mail headers (List-Unsubscribe, RFC 8058); "is it fixed?" after a
category's time

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_address",
        sa.Column("email", sa.Text, primary_key=True),  # lower-cased
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_mail_address_lower")),
    )
    op.add_column("report_subscriber", sa.Column("unsubscribed_at", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("headers", pg.JSONB))
    op.add_column("category", sa.Column("ask_fixed_after_days", sa.Integer, nullable=False, server_default="28"))
    op.create_check_constraint(op.f("ck_category_ask_fixed_after_days_positive"), "category",
                               "ask_fixed_after_days > 0")
    op.add_column("report", sa.Column("fixed_asked_at", sa.DateTime(timezone=True)))
    op.add_column("report", sa.Column("fixed_answered_at", sa.DateTime(timezone=True)))
    # Addresses that followed a report before confirmation existed were told all along: keep telling them.
    op.execute("""
        INSERT INTO mail_address (email, confirmed_at)
        SELECT DISTINCT lower(email), now() FROM report_subscriber ON CONFLICT DO NOTHING""")


def downgrade() -> None:
    op.drop_column("report", "fixed_answered_at")
    op.drop_column("report", "fixed_asked_at")
    op.drop_constraint(op.f("ck_category_ask_fixed_after_days_positive"), "category")
    op.drop_column("category", "ask_fixed_after_days")
    op.drop_column("outbox", "headers")
    op.drop_column("report_subscriber", "unsubscribed_at")
    op.drop_table("mail_address")
