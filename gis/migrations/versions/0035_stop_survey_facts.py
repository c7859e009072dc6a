"""A stop's surveyed facts: shelter, kerb height, tactile paving; stops edited with history (#21)

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 19:55:00

Not in GTFS: what a survey of the stop finds, added by staff in the editor and kept across re-imports
of the feed (by stop_id). The stop layer now keeps its history (triggers from layers.history, synced
after the migrations by gis.db.upgrade).
"""
import sqlalchemy as sa
from alembic import op

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('transit_stop', sa.Column('shelter', sa.Boolean(), nullable=True))
    op.add_column('transit_stop', sa.Column('kerb_height_cm', sa.Integer(), nullable=True))
    op.add_column('transit_stop', sa.Column('tactile_paving', sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column('transit_stop', 'tactile_paving')
    op.drop_column('transit_stop', 'kerb_height_cm')
    op.drop_column('transit_stop', 'shelter')
