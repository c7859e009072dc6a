"""Indexes the national data set showed missing: a report code's prefix, and assets by geography

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 21:40:00

Measured on the national synthetic data set (importers.national: 2,000,000 reports, 1,500,000 assets;
bench/bench_national.py):

* ix_report_code_prefix — a hromada's first report gives it a tracking-code prefix
  (layers.reports.tracking_prefix), checking that no other hromada's report code uses it:
  split_part(code, '-', 1) = :p, which no index served. That first report scanned every report: 1.6 s
  (the demo's first report 1,238 ms at national size against 168 ms at demo size); now a probe, 0.5 ms.
  14 MB at 2 M reports.
* ix_asset_geog — routing finds the nearest lamp or road segment in reach with
  ST_DWithin(a.geom::geography, …, 25) in the hromada (gis.routing); the geometry index cannot answer a
  geography distance, so the planner walked every asset of the kind in the hromada: a "light out"
  report in Kharkiv (43,866 lamps) took 130 ms to route; with this index 1.3 ms. assets_near (the lamps
  a resident chooses from) asks the same. 18 s to build at 1.5 M assets.
"""
import sqlalchemy as sa
from alembic import op

revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_report_code_prefix', 'report', [sa.text("split_part(code, '-', 1)")])
    op.create_index('ix_asset_geog', 'asset', [sa.text('(geom::geography)')], postgresql_using='gist')


def downgrade() -> None:
    op.drop_index('ix_asset_geog', table_name='asset')
    op.drop_index('ix_report_code_prefix', table_name='report')
