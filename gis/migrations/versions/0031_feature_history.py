"""Every editable layer's history kept by the database, from its declaration (#19)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 17:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


# One function for every layer that keeps history (layers.history), run AFTER each INSERT, UPDATE and
# DELETE statement on the layer's table with its transition tables: one set-based pass per statement
# (a row-level trigger cost an import about 110 µs a row, this one about 20 µs). Arguments: the layer's
# name, its id and geometry columns, then the columns whose change alone is no new version
# (imported_at). Per changed feature the current version is closed (valid_to) and the new one written
# with the whole row (geometry as GeoJSON, every digit kept), the columns an update changed (NULL for
# an insert or a delete: the whole row came or went), and who and why from the transaction's settings
# (layers.history.acting). A feature older than its history gets, at its first change, the row before
# it as version 1. A changed id is the old feature's deletion and the new one's insertion. It never
# refuses a write: a user id that is not a number is left out.
RECORD_FEATURE_VERSION = r"""
CREATE FUNCTION record_feature_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    layer_name text := TG_ARGV[0];
    id_column text := TG_ARGV[1];
    geom_column text := TG_ARGV[2];
    ignored text[] := TG_ARGV[3:];
    at timestamptz := clock_timestamp();
    uid_text text := current_setting('hromada.user_id', true);
    uid int;
    who text := NULLIF(btrim(current_setting('hromada.user_label', true)), '');
    why text := NULLIF(btrim(current_setting('hromada.reason', true)), '');
    no_version boolean := lower(COALESCE(current_setting('hromada.versionless', true), ''))
                          IN ('on', 'true', '1', 'yes');
    -- A row as JSON (%1$s: the row's alias), its geometry as RFC 7946 GeoJSON (the columns are EPSG:4326)
    -- to the last digit: to_jsonb alone would add a CRS looked up in spatial_ref_sys for every row.
    as_json constant text := format($r$to_jsonb(jsonb_populate_record(%%1$s, jsonb_build_object(%1$L, NULL)))
        || jsonb_build_object(%1$L, ST_AsGeoJSON(%%1$s.%1$I, 15)::jsonb)$r$, geom_column);
    source text;
BEGIN
    IF uid_text ~ '^[0-9]{1,9}$' THEN
        uid := uid_text::int;
        IF who IS NULL THEN
            SELECT COALESCE(NULLIF(full_name, ''), email) INTO who FROM app_user WHERE id = uid;
        END IF;
    END IF;
    source := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT n.%I::bigint AS fid, NULL::jsonb AS b, %s AS a FROM new_rows n',
                                  id_column, format(as_json, 'n'))
        WHEN 'DELETE' THEN format('SELECT o.%I::bigint AS fid, %s AS b, NULL::jsonb AS a FROM old_rows o',
                                  id_column, format(as_json, 'o'))
        -- An update: the rows whose values differ (compared byte by byte first, then as JSON below).
        ELSE format('SELECT COALESCE(n.%1$I, o.%1$I)::bigint AS fid, '
                    'CASE WHEN o.%1$I IS NULL THEN NULL ELSE %2$s END AS b, '
                    'CASE WHEN n.%1$I IS NULL THEN NULL ELSE %3$s END AS a '
                    'FROM old_rows o FULL JOIN new_rows n ON o.%1$I = n.%1$I '
                    'WHERE o.%1$I IS NULL OR n.%1$I IS NULL '
                    'OR jsonb_populate_record(o, $8) *<> jsonb_populate_record(n, $8)',
                    id_column, format(as_json, 'o'), format(as_json, 'n'))
    END;
    -- OFFSET 0 keeps the rows' JSON made once, not again wherever the planner would copy its expression.
    EXECUTE format($q$
        WITH known AS MATERIALIZED (
            SELECT s.fid, s.b, s.a,
                   CASE WHEN s.b IS NULL THEN 'insert' WHEN s.a IS NULL THEN 'delete' ELSE 'update' END AS op,
                   last.id AS last_id, COALESCE(last.version, 0) AS prev, GREATEST($3, last.valid_from) AS at
            FROM (SELECT * FROM (%s OFFSET 0) s0
                  WHERE s0.b IS NULL OR s0.a IS NULL OR (s0.a - $2) <> (s0.b - $2)) s
            LEFT JOIN LATERAL (
                SELECT v.id, v.version, v.valid_from FROM feature_version v WHERE v.layer = $1 AND v.feature_id = s.fid
                ORDER BY v.version DESC LIMIT 1) last ON true
        ), closed AS (
            UPDATE feature_version v SET valid_to = k.at FROM known k WHERE v.id = k.last_id AND v.valid_to IS NULL
        ), first AS (
            INSERT INTO feature_version (layer, feature_id, version, op, valid_from, valid_to, row)
            SELECT $1, k.fid, 1, 'insert', LEAST(k.at, COALESCE((k.b ->> 'imported_at')::timestamptz, k.at)),
                   k.at, k.b
            FROM known k WHERE k.prev = 0 AND k.op <> 'insert'
        )
        INSERT INTO feature_version (layer, feature_id, version, op, valid_from, row, changed, user_id, user_label,
                                     reason, versionless)
        SELECT $1, k.fid, k.prev + CASE WHEN k.prev = 0 AND k.op <> 'insert' THEN 2 ELSE 1 END, k.op, k.at,
               COALESCE(k.a, k.b),
               CASE WHEN k.op = 'update' THEN ARRAY(
                   SELECT e.key FROM jsonb_each(k.a) e WHERE (k.b -> e.key) IS DISTINCT FROM e.value) END,
               $4, $5, $6, $7
        FROM known k
        $q$, source)
    USING layer_name, ignored, at, uid, who, why, no_version,
          (SELECT COALESCE(jsonb_object_agg(c, NULL), '{}') FROM unnest(ignored) c);
    RETURN NULL;
END
$fn$;
"""


def upgrade() -> None:
    op.create_table('feature_version',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('feature_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('op', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('row', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changed', postgresql.ARRAY(sa.Text()), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_label', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('versionless', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("op IN ('insert', 'update', 'delete')", name=op.f('ck_feature_version_op')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_version'))
    )
    op.create_index('ix_feature_version_layer_feature_id_version', 'feature_version',
                    ['layer', 'feature_id', 'version'], unique=True)
    op.create_index('ix_feature_version_layer_valid_from', 'feature_version', ['layer', 'valid_from'], unique=False)
    op.execute(RECORD_FEATURE_VERSION)
    # The triggers come from the declarations (Layer.history), on the tables there are by now; later
    # ones, and any change of the declarations, follow through gis.db.upgrade → history.sync_triggers.
    from layers import history, registry  # noqa: F401  (every layer declared)

    tables = set(sa.inspect(op.get_bind()).get_table_names())
    for statement in history.trigger_statements(tables=tables):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION record_feature_version() CASCADE")  # and every trigger running it
    op.drop_index('ix_feature_version_layer_valid_from', table_name='feature_version')
    op.drop_index('ix_feature_version_layer_feature_id_version', table_name='feature_version')
    op.drop_table('feature_version')
