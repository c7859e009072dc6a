"""Plans: history authors, approval dates (#19)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 17:00:00

- ``plan_zone_version.author``: who made the version, as a person reads it — the account's full name,
  else its e-mail (looked up by the trigger when it is written, so a renamed or removed account does
  not rename history), else the name a writer without an account gives (``hromada.author``: an import).
  Versions already there get their account's name now; the demo loader's get its name.
- ``plan_zone_version.valid_from``: from when a version counts when not from ``changed_at`` — a plan
  loaded after its approval counts from the decision date (layers.plans.count_from_approval). The demo's
  approved plan, already loaded, is dated so here.
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

DEMO_AUTHOR = "завантаження демо-даних / demo loader"  # importers.demo_plans.AUTHOR, as of this migration

_FUNCTION = r"""
CREATE OR REPLACE FUNCTION plan_zone_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    row_after plan_zone;
    op text;
    uid int;
BEGIN
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'published') = (to_jsonb(OLD) - 'published') THEN
        RETURN NULL;
    END IF;
    row_after := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    op := COALESCE(NULLIF(current_setting('hromada.operation', true), ''),
                   CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END);
    IF TG_OP = 'DELETE' THEN
        op := 'delete';
    END IF;
    uid := NULLIF(current_setting('hromada.user_id', true), '')::int;
    INSERT INTO plan_zone_version (zone_id, plan_id, version, operation, user_id, reason, attributes, geom%(author_column)s)
    VALUES (row_after.id, row_after.plan_id,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.version + 1 ELSE NEW.version END, op,
            uid,
            NULLIF(current_setting('hromada.reason', true), ''),
            jsonb_build_object('zone_code', row_after.zone_code, 'name', row_after.name,
                               'permitted_uses', row_after.permitted_uses, 'max_height_m', row_after.max_height_m,
                               'max_density', row_after.max_density, 'notes', row_after.notes),
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE encode(ST_AsEWKB(NEW.geom), 'hex') END%(author_value)s);
    RETURN NULL;
END
$fn$;
"""
WITH_AUTHOR = _FUNCTION % {
    "author_column": ", author",
    "author_value": """,
            COALESCE((SELECT COALESCE(NULLIF(btrim(a.full_name), ''), a.email) FROM app_user a WHERE a.id = uid),
                     NULLIF(btrim(current_setting('hromada.author', true)), ''))""",
}
WITHOUT_AUTHOR = _FUNCTION % {"author_column": "", "author_value": ""}  # as 0016 made it


def upgrade() -> None:
    op.add_column('plan_zone_version', sa.Column('author', sa.Text(), nullable=True))
    op.add_column('plan_zone_version', sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True))
    op.execute(WITH_AUTHOR)
    op.execute("""
        UPDATE plan_zone_version v SET author = COALESCE(NULLIF(btrim(a.full_name), ''), a.email)
        FROM app_user a WHERE a.id = v.user_id AND v.author IS NULL""")
    op.execute(sa.text("""
        UPDATE plan_zone_version v SET author = :demo
        FROM plan p WHERE p.id = v.plan_id AND p.is_demo AND v.user_id IS NULL AND v.author IS NULL""")
        .bindparams(demo=DEMO_AUTHOR))
    # The demo's approved plan was loaded long after its (invented) decision: it counts from that date.
    op.execute("""
        UPDATE plan_zone_version v SET valid_from = (p.decision_date::timestamp AT TIME ZONE 'Europe/Kyiv')
        FROM plan p
        WHERE p.id = v.plan_id AND p.is_demo AND p.status IN ('approved', 'superseded')
          AND p.decision_date IS NOT NULL AND v.version = 1 AND v.operation = 'create' AND v.valid_from IS NULL
          AND v.changed_at > (p.decision_date::timestamp AT TIME ZONE 'Europe/Kyiv')""")


def downgrade() -> None:
    op.execute(WITHOUT_AUTHOR)
    op.drop_column('plan_zone_version', 'valid_from')
    op.drop_column('plan_zone_version', 'author')
