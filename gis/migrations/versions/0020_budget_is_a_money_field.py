"""the reconstruction budget is a declared money field: its float copy budget_uah goes

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 13:35:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column('reconstruction_project', 'budget_uah')


def downgrade() -> None:
    op.add_column('reconstruction_project', sa.Column(
        'budget_uah', sa.Float(), sa.Computed('(budget)::double precision', persisted=True), nullable=True))
