"""hromada boundaries in small parts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hromada_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('hromada_area', sa.Float(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_hromada_part_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hromada_part'))
    )
    op.create_index('ix_hromada_part_geom', 'hromada_part', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_hromada_part_hromada_id', 'hromada_part', ['hromada_id'], unique=False)
    # Hromadas loaded before this revision get their parts now.
    op.execute("INSERT INTO hromada_part (hromada_id, hromada_area, geom) "
               "SELECT id, ST_Area(boundary), ST_Subdivide(boundary, 256) FROM hromada")


def downgrade() -> None:
    op.drop_index('ix_hromada_part_hromada_id', table_name='hromada_part')
    op.drop_index('ix_hromada_part_geom', table_name='hromada_part', postgresql_using='gist')
    op.drop_table('hromada_part')
