"""Reports by the asset they are about

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 00:20:00

* ix_report_asset_id — a "lamp not working" report first looks for an open report on the same lamp
  (layers.reports.create_report: one open report per faulty asset) and the lamp's popup says whether it
  is faulty (layers.lighting): asset_id = :a AND category_id = :c AND status = ANY(open). No index began
  with asset_id, so PostgreSQL read every open report of the category. Measured with 1,000,000 reports
  in the demo hromada, 300,000 of them about 113 lamps: 245–270 ms a check; with this index 17–21 ms,
  and at the national spread (a few reports a lamp) a probe. Partial: most reports name no asset.
"""
import sqlalchemy as sa
from alembic import op

revision = '0040'
down_revision = '0039'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_report_asset_id', 'report', ['asset_id', 'category_id'],
                    postgresql_where=sa.text('asset_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_report_asset_id', table_name='report')
