"""foundation: hromadas, settlements, units, categories, users

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('roles', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{resident}'"), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("roles <@ ARRAY['resident', 'unit_staff', 'planner', 'admin']::text[]", name=op.f('ck_app_user_known_roles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user'))
    )
    op.create_index('uq_app_user_email_lower', 'app_user', [sa.literal_column('lower(email)')], unique=True)
    op.create_table('category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=True),
    sa.Column('target_days', sa.Integer(), server_default='10', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category')),
    sa.UniqueConstraint('code', name=op.f('uq_category_code'))
    )
    op.create_table('hromada',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('katottg', sa.String(length=19), nullable=False),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('koatuu', sa.Text(), nullable=True),
    sa.Column('oblast', sa.Text(), nullable=True),
    sa.Column('raion', sa.Text(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('wikidata', sa.Text(), nullable=True),
    sa.Column('boundary', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('boundary_repaired', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("katottg ~ '^UA[0-9]{17}$'", name=op.f('ck_hromada_katottg_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hromada')),
    sa.UniqueConstraint('katottg', name=op.f('uq_hromada_katottg'))
    )
    op.create_index('ix_hromada_boundary', 'hromada', ['boundary'], unique=False, postgresql_using='gist')
    op.create_table('settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), server_default='village', nullable=False),
    sa.Column('katottg', sa.String(length=19), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('source_ref', sa.Text(), nullable=True),
    sa.Column('boundary', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('centre', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("kind IN ('city', 'town', 'village', 'hamlet', 'other')", name=op.f('ck_settlement_kind')),
    sa.CheckConstraint('boundary IS NOT NULL OR centre IS NOT NULL', name=op.f('ck_settlement_has_geometry')),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_settlement_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement')),
    sa.UniqueConstraint('hromada_id', 'source_ref', name=op.f('uq_settlement_hromada_id_source_ref'))
    )
    op.create_index('ix_settlement_boundary', 'settlement', ['boundary'], unique=False, postgresql_using='gist')
    op.create_index('ix_settlement_centre', 'settlement', ['centre'], unique=False, postgresql_using='gist')
    op.create_index('ix_settlement_hromada_id', 'settlement', ['hromada_id'], unique=False)
    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('service_area', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('department', 'enterprise', 'starosta_district', 'outside_body', 'other')", name=op.f('ck_unit_kind')),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_unit_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('hromada_id', 'code', name=op.f('uq_unit_hromada_id_code'))
    )
    op.create_index('ix_unit_service_area', 'unit', ['service_area'], unique=False, postgresql_using='gist')
    op.create_table('staff_membership',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_staff_membership_unit_id_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_staff_membership_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'unit_id', name=op.f('pk_staff_membership'))
    )
    op.create_table('unit_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('area', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_unit_category_category_id_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_category_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_category')),
    sa.UniqueConstraint('unit_id', 'category_id', name=op.f('uq_unit_category_unit_id_category_id'))
    )
    op.create_index('ix_unit_category_area', 'unit_category', ['area'], unique=False, postgresql_using='gist')
    op.create_index('ix_unit_category_category_id', 'unit_category', ['category_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_unit_category_category_id', table_name='unit_category')
    op.drop_index('ix_unit_category_area', table_name='unit_category', postgresql_using='gist')
    op.drop_table('unit_category')
    op.drop_table('staff_membership')
    op.drop_index('ix_unit_service_area', table_name='unit', postgresql_using='gist')
    op.drop_table('unit')
    op.drop_index('ix_settlement_hromada_id', table_name='settlement')
    op.drop_index('ix_settlement_centre', table_name='settlement', postgresql_using='gist')
    op.drop_index('ix_settlement_boundary', table_name='settlement', postgresql_using='gist')
    op.drop_table('settlement')
    op.drop_index('ix_hromada_boundary', table_name='hromada', postgresql_using='gist')
    op.drop_table('hromada')
    op.drop_table('category')
    op.drop_index('uq_app_user_email_lower', table_name='app_user')
    op.drop_table('app_user')
