"""The unit's day: a report assigned to one person; response templates per hromada and category

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report", sa.Column("assigned_user_id", sa.Integer, sa.ForeignKey(
        "app_user.id", ondelete="SET NULL", name=op.f("fk_report_assigned_user_id_app_user"))))
    op.create_index(op.f("ix_report_assigned_user_id"), "report", ["assigned_user_id"])
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE",
                                                          name=op.f("fk_response_template_hromada_id_hromada")),
                  nullable=False),
        sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE",
                                                           name=op.f("fk_response_template_category_id_category"))),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index(op.f("ix_response_template_hromada_id"), "response_template", ["hromada_id"])


def downgrade() -> None:
    op.drop_table("response_template")
    op.drop_index(op.f("ix_report_assigned_user_id"), "report")
    op.drop_column("report", "assigned_user_id")
