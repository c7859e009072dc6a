"""The low-zoom clusters of the vector tiles, counted ahead: tile_cell (#20)

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 10:00:00

Per clustered layer, zoom and grid cell: how many of the layer's public features lie in the cell and
one of their ids (layers.tile_cells). A clustered tile reads its cells (the primary key serves "the
layer's cells of zoom z in these columns and rows") instead of grouping every feature under it.

The triggers that keep it are generated from the layer declarations: gis.db.upgrade runs
layers.tile_cells.sync after the migrations, which makes them on every clustered public layer's table
and counts each such layer's cells from its rows (the backfill).
"""
import sqlalchemy as sa
from alembic import op

revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tile_cell',
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('z', sa.SmallInteger(), nullable=False),
    sa.Column('cx', sa.Integer(), nullable=False),
    sa.Column('cy', sa.Integer(), nullable=False),
    sa.Column('point_count', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('layer', 'z', 'cx', 'cy', name=op.f('pk_tile_cell'))
    )


def downgrade() -> None:
    # The generated functions (layers.tile_cells.PREFIX) and, with them, their triggers.
    op.execute(r"""
        DO $$
        DECLARE f text;
        BEGIN
            FOR f IN SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'tile\_cells\_%' LOOP
                EXECUTE format('DROP FUNCTION %I() CASCADE', f);
            END LOOP;
        END $$""")
    op.drop_table('tile_cell')
