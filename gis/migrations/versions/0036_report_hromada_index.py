"""Indexes for reading one hromada's reports at national size, and a resident's by e-mail

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 20:00:00

The dashboard, the public lists and Open311 read one hromada's reports by time, the staff queue by
status and due date; no index began with hromada_id, so at the national 2,000,000 reports each read
scanned the table (docs/capacity.md). The cabinet finds a resident's reports by lower(reporter_email).
"""
import sqlalchemy as sa
from alembic import op

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_report_hromada_id_created_at', 'report', ['hromada_id', 'created_at'])
    op.create_index('ix_report_hromada_id_status_due_at', 'report', ['hromada_id', 'status', 'due_at'])
    op.create_index('ix_report_reporter_email_lower', 'report', [sa.text('lower(reporter_email)')])


def downgrade() -> None:
    op.drop_index('ix_report_reporter_email_lower', table_name='report')
    op.drop_index('ix_report_hromada_id_status_due_at', table_name='report')
    op.drop_index('ix_report_hromada_id_created_at', table_name='report')
