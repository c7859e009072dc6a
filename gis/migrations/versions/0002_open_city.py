"""open city: assets, reports, history, subscribers, outbox, idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_idempotency_key'))
    )
    op.create_table('report_counter',
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_report_counter_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hromada_id', 'year', name=op.f('pk_report_counter'))
    )
    op.create_table('asset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('owner_unit_id', sa.Integer(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_asset_hromada_id_hromada'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['unit.id'], name=op.f('fk_asset_owner_unit_id_unit'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset')),
    sa.UniqueConstraint('hromada_id', 'kind', 'ref', name=op.f('uq_asset_hromada_id_kind_ref'))
    )
    op.create_index('ix_asset_geom', 'asset', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Text(), server_default='new', nullable=False),
    sa.Column('location', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reporter_name', sa.Text(), nullable=True),
    sa.Column('reporter_email', sa.Text(), nullable=True),
    sa.Column('reporter_phone', sa.Text(), nullable=True),
    sa.Column('show_name', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('private_token_hash', sa.Text(), nullable=False),
    sa.Column('routing_rule', sa.Text(), nullable=False),
    sa.Column('routing_reason_uk', sa.Text(), nullable=False),
    sa.Column('routing_reason_en', sa.Text(), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("routing_rule IN ('asset', 'area', 'default')", name=op.f('ck_report_routing_rule')),
    sa.CheckConstraint("status IN ('new', 'acknowledged', 'in_progress', 'resolved', 'rejected', 'duplicate', 'reopened')", name=op.f('ck_report_status')),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_report_asset_id_asset'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_report_category_id_category'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['report.id'], name=op.f('fk_report_duplicate_of_id_report'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_report_hromada_id_hromada'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_report_unit_id_unit'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report')),
    sa.UniqueConstraint('code', name=op.f('uq_report_code'))
    )
    op.create_index('ix_report_category_id_status', 'report', ['category_id', 'status'], unique=False)
    op.create_index('ix_report_location', 'report', ['location'], unique=False, postgresql_using='gist')
    op.create_index('ix_report_unit_id_status', 'report', ['unit_id', 'status'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('to_addr', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('message_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name=op.f('ck_outbox_status')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_outbox_report_id_report'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_id'))
    )
    op.create_index('ix_outbox_status_next_attempt_at', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_table('report_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.Text(), nullable=True),
    sa.Column('to_status', sa.Text(), nullable=True),
    sa.Column('from_unit_id', sa.Integer(), nullable=True),
    sa.Column('to_unit_id', sa.Integer(), nullable=True),
    sa.Column('public_note', sa.Text(), nullable=True),
    sa.Column('private_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['from_unit_id'], ['unit.id'], name=op.f('fk_report_event_from_unit_id_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_event_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_unit_id'], ['unit.id'], name=op.f('fk_report_event_to_unit_id_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_report_event_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_event'))
    )
    op.create_index('ix_report_event_report_id', 'report_event', ['report_id'], unique=False)
    op.create_table('report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('thumb', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_photo_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photo')),
    sa.UniqueConstraint('report_id', 'position', name=op.f('uq_report_photo_report_id_position'))
    )
    op.create_table('report_subscriber',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('is_reporter', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_subscriber_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_subscriber'))
    )
    op.create_index('uq_report_subscriber_report_email', 'report_subscriber', ['report_id', sa.literal_column('lower(email)')], unique=True)
    op.add_column('category', sa.Column('asset_kind', sa.Text(), nullable=True))
    op.add_column('category', sa.Column('snap_distance_m', sa.Integer(), server_default='25', nullable=False))


def downgrade() -> None:
    op.drop_column('category', 'snap_distance_m')
    op.drop_column('category', 'asset_kind')
    op.drop_index('uq_report_subscriber_report_email', table_name='report_subscriber')
    op.drop_table('report_subscriber')
    op.drop_table('report_photo')
    op.drop_index('ix_report_event_report_id', table_name='report_event')
    op.drop_table('report_event')
    op.drop_index('ix_outbox_status_next_attempt_at', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_report_unit_id_status', table_name='report')
    op.drop_index('ix_report_location', table_name='report', postgresql_using='gist')
    op.drop_index('ix_report_category_id_status', table_name='report')
    op.drop_table('report')
    op.drop_index('ix_asset_geom', table_name='asset', postgresql_using='gist')
    op.drop_table('asset')
    op.drop_table('report_counter')
    op.drop_table('idempotency_key')
