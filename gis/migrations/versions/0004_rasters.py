"""raster datasets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('raster_dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('file_path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('crs', sa.Text(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('bands', sa.Integer(), nullable=False),
    sa.Column('dtype', sa.Text(), nullable=False),
    sa.Column('nodata', sa.Float(), nullable=True),
    sa.Column('pixel_size', postgresql.ARRAY(sa.Float()), nullable=False),
    sa.Column('stats', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('footprint', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_raster_dataset_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raster_dataset')),
    sa.UniqueConstraint('layer', 'sha256', name=op.f('uq_raster_dataset_layer_sha256'))
    )
    op.create_index('ix_raster_dataset_footprint', 'raster_dataset', ['footprint'], unique=False, postgresql_using='gist')


def downgrade() -> None:
    op.drop_index('ix_raster_dataset_footprint', table_name='raster_dataset', postgresql_using='gist')
    op.drop_table('raster_dataset')
