"""synthetic layers for load tests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('synthetic_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_synthetic_point_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_synthetic_point'))
    )
    op.create_index('ix_synthetic_point_geom', 'synthetic_point', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_synthetic_point_hromada_id', 'synthetic_point', ['hromada_id'], unique=False)
    op.create_table('synthetic_road',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('road_class', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_synthetic_road_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_synthetic_road'))
    )
    op.create_index('ix_synthetic_road_geom', 'synthetic_road', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_synthetic_road_hromada_id', 'synthetic_road', ['hromada_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_synthetic_road_hromada_id', table_name='synthetic_road')
    op.drop_index('ix_synthetic_road_geom', table_name='synthetic_road', postgresql_using='gist')
    op.drop_table('synthetic_road')
    op.drop_index('ix_synthetic_point_hromada_id', table_name='synthetic_point')
    op.drop_index('ix_synthetic_point_geom', table_name='synthetic_point', postgresql_using='gist')
    op.drop_table('synthetic_point')
