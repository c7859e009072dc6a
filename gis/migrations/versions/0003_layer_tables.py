"""layer tables generated from declarations; import runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coverage_area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('technology', sa.Text(), nullable=False),
    sa.Column('down_mbps', sa.Float(), nullable=True),
    sa.Column('up_mbps', sa.Float(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_coverage_area_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_area'))
    )
    op.create_index('ix_coverage_area_geom', 'coverage_area', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_coverage_area_hromada_id', 'coverage_area', ['hromada_id'], unique=False)
    op.create_table('import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_import_run_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_run'))
    )
    op.create_table('protected_area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('register_no', sa.Text(), nullable=True),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('significance', sa.Text(), nullable=True),
    sa.Column('oblast', sa.Text(), nullable=True),
    sa.Column('raion', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_protected_area_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protected_area'))
    )
    op.create_index('ix_protected_area_geom', 'protected_area', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_protected_area_hromada_id', 'protected_area', ['hromada_id'], unique=False)
    op.create_table('wifi_hotspot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('operator', sa.Text(), nullable=True),
    sa.Column('hours', sa.Text(), nullable=True),
    sa.Column('free', sa.Boolean(), nullable=True),
    sa.Column('osm_id', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_wifi_hotspot_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wifi_hotspot'))
    )
    op.create_index('ix_wifi_hotspot_geom', 'wifi_hotspot', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_wifi_hotspot_hromada_id', 'wifi_hotspot', ['hromada_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_wifi_hotspot_hromada_id', table_name='wifi_hotspot')
    op.drop_index('ix_wifi_hotspot_geom', table_name='wifi_hotspot', postgresql_using='gist')
    op.drop_table('wifi_hotspot')
    op.drop_index('ix_protected_area_hromada_id', table_name='protected_area')
    op.drop_index('ix_protected_area_geom', table_name='protected_area', postgresql_using='gist')
    op.drop_table('protected_area')
    op.drop_table('import_run')
    op.drop_index('ix_coverage_area_hromada_id', table_name='coverage_area')
    op.drop_index('ix_coverage_area_geom', table_name='coverage_area', postgresql_using='gist')
    op.drop_table('coverage_area')
