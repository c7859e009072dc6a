"""A hromada's set-up as data: roles per hromada, invitations, districts, assignments by scope,
per-hromada categories and targets, audit log, notices to units (issue #14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 08:42:33.981535
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('invite', 'reset')", name=op.f('ck_account_token_purpose')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_account_token_created_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_account_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_token_token_hash'))
    )
    op.create_index('ix_account_token_user_id', 'account_token', ['user_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('object', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_audit_log_hromada_id_hromada'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_audit_log_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_hromada_id_created_at', 'audit_log', ['hromada_id', 'created_at'], unique=False)
    op.create_table('role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(role = 'operator') = (hromada_id IS NULL)", name=op.f('ck_role_grant_operator_is_national')),
    sa.CheckConstraint("role IN ('operator', 'admin', 'unit_staff', 'planner')", name=op.f('ck_role_grant_role')),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_role_grant_hromada_id_hromada'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_role_grant_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grant'))
    )
    op.create_index('ix_role_grant_hromada_id', 'role_grant', ['hromada_id'], unique=False)
    op.create_index('uq_role_grant_user_id_hromada_id_role', 'role_grant', ['user_id', sa.literal_column('COALESCE(hromada_id, 0)'), 'role'], unique=True)
    op.create_table('starosta_district',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name_uk', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_starosta_district_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_starosta_district')),
    sa.UniqueConstraint('hromada_id', 'code', name=op.f('uq_starosta_district_hromada_id_code'))
    )
    op.create_table('district_settlement',
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['starosta_district.id'], name=op.f('fk_district_settlement_district_id_starosta_district'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_district_settlement_settlement_id_settlement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('district_id', 'settlement_id', name=op.f('pk_district_settlement')),
    sa.UniqueConstraint('settlement_id', name=op.f('uq_district_settlement_settlement_id'))
    )
    op.create_table('hromada_category',
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('target_days', sa.Integer(), nullable=True),
    sa.CheckConstraint('target_days IS NULL OR target_days BETWEEN 1 AND 365', name=op.f('ck_hromada_category_target_days')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_hromada_category_category_id_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_hromada_category_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hromada_id', 'category_id', name=op.f('pk_hromada_category'))
    )
    op.create_table('hromada_setup',
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_unit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['default_unit_id'], ['unit.id'], name=op.f('fk_hromada_setup_default_unit_id_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_hromada_setup_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hromada_id', name=op.f('pk_hromada_setup'))
    )
    op.create_table('unit_notice',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('digested_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['report_event.id'], name=op.f('fk_unit_notice_event_id_report_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_unit_notice_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_notice_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_notice')),
    sa.UniqueConstraint('unit_id', 'event_id', name=op.f('uq_unit_notice_unit_id_event_id'))
    )
    op.create_index('ix_unit_notice_unit_id_digested_at', 'unit_notice', ['unit_id', 'digested_at'], unique=False)
    # Every role held before was held for the hromadas that had units (only the demo's, in practice);
    # an admin of that time could do everything, so he also becomes the national operator.
    op.execute("""
        INSERT INTO role_grant (user_id, hromada_id, role)
        SELECT u.id, h.id, r.role FROM app_user u CROSS JOIN LATERAL unnest(u.roles) AS r(role)
        CROSS JOIN hromada h
        WHERE r.role IN ('admin', 'unit_staff', 'planner') AND EXISTS (SELECT 1 FROM unit WHERE hromada_id = h.id)""")
    op.execute("""
        INSERT INTO role_grant (user_id, hromada_id, role)
        SELECT id, NULL, 'operator' FROM app_user WHERE 'admin' = ANY(roles)""")
    # Hromadas that could take reports before stay enabled.
    op.execute("""
        INSERT INTO hromada_setup (hromada_id, enabled_at)
        SELECT DISTINCT hromada_id, now() FROM unit""")
    op.drop_column('app_user', 'roles')
    op.add_column('app_user', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    op.add_column('import_run', sa.Column('hromada_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_import_run_hromada_id_hromada'), 'import_run', 'hromada', ['hromada_id'], ['id'],
                          ondelete='CASCADE')
    op.add_column('category', sa.Column('hromada_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_category_hromada_id_hromada'), 'category', 'hromada', ['hromada_id'], ['id'], ondelete='CASCADE')
    op.add_column('unit', sa.Column('emails', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False))
    op.add_column('unit', sa.Column('has_accounts', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.add_column('unit', sa.Column('notify_mode', sa.Text(), server_default='each', nullable=False))
    op.execute("UPDATE unit SET emails = ARRAY[email] WHERE email IS NOT NULL AND email <> ''")
    op.drop_column('unit', 'email')
    op.create_check_constraint(op.f('ck_unit_notify_mode'), 'unit', "notify_mode IN ('each', 'digest')")
    op.add_column('unit_category', sa.Column('scope', sa.Text(), server_default='hromada', nullable=False))
    op.add_column('unit_category', sa.Column('district_id', sa.Integer(), nullable=True))
    op.add_column('unit_category', sa.Column('settlement_ids', postgresql.ARRAY(sa.Integer()), nullable=True))
    op.drop_constraint(op.f('uq_unit_category_unit_id_category_id'), 'unit_category', type_='unique')
    op.create_index('ix_unit_category_unit_id', 'unit_category', ['unit_id'], unique=False)
    op.execute("UPDATE unit_category SET scope = 'area' WHERE area IS NOT NULL")
    op.create_check_constraint(op.f('ck_unit_category_scope'), 'unit_category',
                               "scope IN ('hromada', 'district', 'villages', 'area')")
    op.create_check_constraint(op.f('ck_unit_category_district_scope'), 'unit_category',
                               "(scope = 'district') = (district_id IS NOT NULL)")
    op.create_check_constraint(op.f('ck_unit_category_villages_scope'), 'unit_category',
                               "(scope = 'villages') = (settlement_ids IS NOT NULL)")
    op.create_foreign_key(op.f('fk_unit_category_district_id_starosta_district'), 'unit_category', 'starosta_district', ['district_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    op.drop_column('app_user', 'session_epoch')
    op.drop_constraint(op.f('fk_import_run_hromada_id_hromada'), 'import_run', type_='foreignkey')
    op.drop_column('import_run', 'hromada_id')
    for name in ('ck_unit_category_scope', 'ck_unit_category_district_scope', 'ck_unit_category_villages_scope'):
        op.drop_constraint(op.f(name), 'unit_category', type_='check')
    op.drop_constraint(op.f('ck_unit_notify_mode'), 'unit', type_='check')
    op.drop_constraint(op.f('fk_unit_category_district_id_starosta_district'), 'unit_category', type_='foreignkey')
    op.drop_index('ix_unit_category_unit_id', table_name='unit_category')
    op.create_unique_constraint(op.f('uq_unit_category_unit_id_category_id'), 'unit_category', ['unit_id', 'category_id'], postgresql_nulls_not_distinct=False)
    op.drop_column('unit_category', 'settlement_ids')
    op.drop_column('unit_category', 'district_id')
    op.drop_column('unit_category', 'scope')
    op.add_column('unit', sa.Column('email', sa.TEXT(), autoincrement=False, nullable=True))
    op.execute("UPDATE unit SET email = emails[1]")
    op.drop_column('unit', 'notify_mode')
    op.drop_column('unit', 'has_accounts')
    op.drop_column('unit', 'emails')
    op.drop_constraint(op.f('fk_category_hromada_id_hromada'), 'category', type_='foreignkey')
    op.drop_column('category', 'hromada_id')
    op.add_column('app_user', sa.Column('roles', postgresql.ARRAY(sa.TEXT()), server_default=sa.text("'{resident}'::text[]"), autoincrement=False, nullable=False))
    op.execute("""UPDATE app_user u SET roles = ARRAY(SELECT DISTINCT CASE WHEN role = 'operator' THEN 'admin' ELSE role END
                                             FROM role_grant g WHERE g.user_id = u.id)""")
    op.drop_index('ix_unit_notice_unit_id_digested_at', table_name='unit_notice')
    op.drop_table('unit_notice')
    op.drop_table('hromada_setup')
    op.drop_table('hromada_category')
    op.drop_table('district_settlement')
    op.drop_table('starosta_district')
    op.drop_index('uq_role_grant_user_id_hromada_id_role', table_name='role_grant')
    op.drop_index('ix_role_grant_hromada_id', table_name='role_grant')
    op.drop_table('role_grant')
    op.drop_index('ix_audit_log_hromada_id_created_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_account_token_user_id', table_name='account_token')
    op.drop_table('account_token')
