"""Each hromada's own tracking-code prefix (hromada.report_prefix, unique)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 19:30:00

Tracking codes were two letters of the hromada's name and a number counted per hromada — but 1,394
of the 1,466 hromadas share their first two letters with another, so the second hromada of a pair
collided with the first's codes (report.code is unique) and could take no report. Now each hromada
holds a prefix no other holds, given at its first report (layers.reports.tracking_prefix). A
hromada that has reports keeps the prefix of its codes (the hromada with the earliest report first,
should two have used the same letters).
"""
import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('hromada', sa.Column('report_prefix', sa.Text(), nullable=True))
    op.create_unique_constraint(op.f('uq_hromada_report_prefix'), 'hromada', ['report_prefix'])
    conn = op.get_bind()
    used = conn.execute(sa.text("""
        SELECT hromada_id, split_part(code, '-', 1) AS prefix, min(created_at) AS first
        FROM report GROUP BY 1, 2 ORDER BY first""")).all()
    given: dict[int, str] = {}
    for hromada_id, prefix, _first in used:
        if hromada_id not in given and prefix not in given.values():
            given[hromada_id] = prefix
            conn.execute(sa.text("UPDATE hromada SET report_prefix = :p WHERE id = :h"),
                         {"p": prefix, "h": hromada_id})


def downgrade() -> None:
    op.drop_constraint(op.f('uq_hromada_report_prefix'), 'hromada', type_='unique')
    op.drop_column('hromada', 'report_prefix')
