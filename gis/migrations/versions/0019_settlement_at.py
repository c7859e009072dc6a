"""settlement_at(hromada_id, geom): the village a feature lies in, one definition for every query

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:35:00
"""
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A set-returning SQL function with one SELECT: PostgreSQL inlines it into the calling query
    # (LEFT JOIN LATERAL settlement_at(...) v ON true), so the settlement's spatial index still serves.
    # A line or polygon counts by a point on its surface; where villages overlap, the smallest wins.
    op.execute("""
        CREATE FUNCTION settlement_at(h integer, g geometry) RETURNS SETOF settlement
        LANGUAGE sql STABLE PARALLEL SAFE ROWS 1 AS $$
            SELECT s.* FROM settlement s
            WHERE s.hromada_id = h AND s.boundary IS NOT NULL
              AND ST_Intersects(s.boundary, CASE WHEN GeometryType(g) = 'POINT' THEN g ELSE ST_PointOnSurface(g) END)
            ORDER BY ST_Area(s.boundary), s.id
            LIMIT 1
        $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION settlement_at(integer, geometry)")
