"""Edits without a version (QGIS): merged by property, recorded, flagged for review (#19)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 17:00:00

Three columns of ``plan_zone_version``, written after the history trigger's row by the OGC API's
versionless writes (layers.writable): ``versionless`` (the write named no version: a PATCH or a
DELETE without If-Match), ``needs_review`` (it replaced a value another account had set within the
review window) and ``review_fields`` (which properties, "geometry" among them). The trigger itself
is unchanged: every earlier version keeps false/false/NULL.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('plan_zone_version',
                  sa.Column('versionless', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('plan_zone_version',
                  sa.Column('needs_review', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('plan_zone_version', sa.Column('review_fields', postgresql.ARRAY(sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('plan_zone_version', 'review_fields')
    op.drop_column('plan_zone_version', 'needs_review')
    op.drop_column('plan_zone_version', 'versionless')
