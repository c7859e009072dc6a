"""A bulk import's new features: one history row per batch instead of one per feature (#20)

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 10:00:00

Writing an insert version for each of 200,000 imported polygons took 4.2 s of an 8.1 s import
(bench/bench_import.py). A transaction that sets ``hromada.bulk_insert`` to a layer's name
(``layers.history.inserts_in_bulk``; the import pipeline does, for its COPY or its merge's INSERT)
now gets, for its INSERT statements on that layer, one ``feature_insert_batch`` row: the ids inserted
(a multirange: one range when they are consecutive, as a COPY's are) with who, why, what caused it
(``import:<run id>``) and when — what each insert version would have said besides the row, which the
table itself holds until the feature first changes. Updates and deletes are recorded as always.

- the readers (``layers.history.versions``, ``as_of``, ``history_for``, diff and revert) show an
  unchanged feature of a batch as version 1 from its row and its batch;
- at the feature's first change ``record_feature_version`` writes version 1 from the row before the
  change, as for any feature older than its history, now with the batch's who, why, cause and time.

Why a setting and not ``ALTER TABLE … DISABLE TRIGGER`` (importers/national.py): the ALTER takes a SHARE ROW
EXCLUSIVE lock on the layer's table until the import commits, so every edit of the layer — a form, the
OGC API, a report moving a lamp — would wait for the whole import; the setting takes no lock, writes
no catalogue row and ends with the transaction (``set_config(…, true)``).

Downgrade: the function of migration 0032 again; the batches are dropped, so features never changed
since a bulk import lose the import's who and when (their rows stay).
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None

# As in migration 0032, and: (1) an INSERT on a layer named in hromada.bulk_insert is one batch row;
# (2) a feature's first version written at its first change takes who, why, cause and time from its
# batch (the newest holding its id: ids are not reused while the row lives).
RECORD_FEATURE_VERSION = r"""
CREATE OR REPLACE FUNCTION record_feature_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
    caused_by text := NULLIF(btrim(current_setting('hromada.cause', true)), '');
    no_version boolean := lower(COALESCE(current_setting('hromada.versionless', true), ''))
                          IN ('on', 'true', '1', 'yes');
    in_bulk boolean := TG_OP = 'INSERT'
        AND layer_name = ANY(string_to_array(COALESCE(current_setting('hromada.bulk_insert', true), ''), ','));
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
    IF in_bulk THEN
        -- min/max/count in one pass; range_agg (a sort) only when another writer's ids fell in between.
        EXECUTE format($q$
            INSERT INTO feature_insert_batch (layer, ids, at, user_id, user_label, reason, cause)
            SELECT $1, CASE WHEN max(s.fid) - min(s.fid) + 1 = count(*)
                            THEN int8multirange(int8range(min(s.fid), max(s.fid), '[]'))
                            ELSE (SELECT range_agg(int8range(n.%1$I, n.%1$I, '[]')) FROM new_rows n) END,
                   $2, $3, $4, $5, $6
            FROM (SELECT n.%1$I::bigint AS fid FROM new_rows n) s HAVING count(*) > 0
            $q$, id_column)
        USING layer_name, at, uid, who, why, caused_by;
        RETURN NULL;
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
            INSERT INTO feature_version (layer, feature_id, version, op, valid_from, valid_to, row,
                                         user_id, user_label, reason, cause)
            SELECT $1, k.fid, 1, 'insert',
                   LEAST(k.at, COALESCE(b.at, (k.b ->> 'imported_at')::timestamptz, k.at)), k.at, k.b,
                   b.user_id, b.user_label, b.reason, b.cause
            FROM known k LEFT JOIN LATERAL (
                SELECT fb.at, fb.user_id, fb.user_label, fb.reason, fb.cause FROM feature_insert_batch fb
                WHERE fb.layer = $1 AND fb.ids @> k.fid ORDER BY fb.id DESC LIMIT 1) b ON true
            WHERE k.prev = 0 AND k.op <> 'insert'
        )
        INSERT INTO feature_version (layer, feature_id, version, op, valid_from, row, changed, user_id, user_label,
                                     reason, versionless, cause)
        SELECT $1, k.fid, k.prev + CASE WHEN k.prev = 0 AND k.op <> 'insert' THEN 2 ELSE 1 END, k.op, k.at,
               COALESCE(k.a, k.b),
               CASE WHEN k.op = 'update' THEN ARRAY(
                   SELECT e.key FROM jsonb_each(k.a) e WHERE (k.b -> e.key) IS DISTINCT FROM e.value) END,
               $4, $5, $6, $7, $9
        FROM known k
        $q$, source)
    USING layer_name, ignored, at, uid, who, why, no_version,
          (SELECT COALESCE(jsonb_object_agg(c, NULL), '{}') FROM unnest(ignored) c), caused_by;
    RETURN NULL;
END
$fn$;
"""


def _migration(name: str):
    path = next((Path(__file__).parent).glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.create_table('feature_insert_batch',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('ids', postgresql.INT8MULTIRANGE(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_label', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('cause', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_insert_batch'))
    )
    op.create_index('ix_feature_insert_batch_layer_id', 'feature_insert_batch', ['layer', 'id'], unique=False)
    op.execute(RECORD_FEATURE_VERSION)


def downgrade() -> None:
    op.execute(_migration("0032").RECORD_FEATURE_VERSION)
    op.drop_index('ix_feature_insert_batch_layer_id', table_name='feature_insert_batch')
    op.drop_table('feature_insert_batch')
