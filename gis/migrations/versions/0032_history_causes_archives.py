"""The cause of a feature's version; lamp and venue history kept by feature_version (#19)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 18:40:00

- ``feature_version.cause``: what caused a version — ``report:123`` (a report moved a lamp),
  ``proposal:45`` (an approved venue proposal) — from the transaction's setting ``hromada.cause``
  (``layers.history.acting(…, cause=…)``); indexed per layer, feature and cause ("the version before
  the first one this report caused"). ``record_feature_version`` stores it.
- ``lamp_status_change`` (migration 0008) and ``venue_history`` (0011) are no longer written: the
  lamps' and venues' history is ``feature_version`` (both layers declare ``history="public"``). Their
  rows cannot become versions faithfully — a lamp's row held its status only, never the whole lamp;
  a venue's held the changed fields with its geometry rounded to 9 digits and without the columns
  added since — so they stay, read-only (a trigger refuses INSERT, UPDATE and DELETE), as archives
  the readers consult for what happened before this migration (``history_archive.switched_at``):
  ``layers.lighting`` for the status a lamp had before a report, ``layers.venue_proposals.history``
  for a venue's changes. Their foreign keys go: an archive outlives deleted lamps, reports,
  proposals and accounts, as ``feature_version`` does (a cascade would also have written to it).
- The ``venue_history`` trigger is dropped. It and ``feature_version`` both recorded every venue
  change since migration 0031; ``switched_at`` is taken while the venue table is locked (DROP
  TRIGGER), so a venue's versions from before it are the archive's rows, those after it are not.

Downgrade: the trigger, the foreign keys (orphans treated as they would have been: a deleted lamp's
rows deleted, other references emptied) and the old record_feature_version come back; the causes
are dropped, and changes made after the switch are only in feature_version.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

# As in migration 0031, with ``cause`` (hromada.cause) stored beside who and why.
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

READ_ONLY = r"""
CREATE FUNCTION history_archive_read_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION '% is a read-only archive: the history since migration 0032 is feature_version',
        TG_TABLE_NAME USING ERRCODE = 'read_only_sql_transaction';
END
$fn$;
"""
ARCHIVES = {"lamp_status_change": "street_lamps", "venue_history": "venues"}
# (table, constraint, column, referred table, ON DELETE) as migrations 0008 and 0011 made them.
FOREIGN_KEYS = (
    ("lamp_status_change", "fk_lamp_status_change_lamp_id_street_lamp", "lamp_id", "street_lamp", "CASCADE"),
    ("lamp_status_change", "fk_lamp_status_change_report_id_report", "report_id", "report", "SET NULL"),
    ("venue_history", "fk_venue_history_proposal_id_venue_proposal", "proposal_id", "venue_proposal", "SET NULL"),
    ("venue_history", "fk_venue_history_user_id_app_user", "user_id", "app_user", "SET NULL"),
)


def _migration(name: str):
    path = next((Path(__file__).parent).glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.add_column('feature_version', sa.Column('cause', sa.Text(), nullable=True))
    op.create_index('ix_feature_version_layer_feature_id_cause', 'feature_version',
                    ['layer', 'feature_id', 'cause'], unique=False)
    op.execute(RECORD_FEATURE_VERSION)
    op.create_table('history_archive',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('switched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_history_archive'))
    )
    # Locks venue until the migration commits: every venue change before the clock read below is in
    # venue_history, every one after it only in feature_version.
    op.execute("DROP TRIGGER venue_history ON venue")
    op.execute("DROP FUNCTION venue_history()")
    op.execute(READ_ONLY)
    for table, constraint, _, _, _ in FOREIGN_KEYS:
        op.drop_constraint(constraint, table, type_='foreignkey')
    for table, layer in ARCHIVES.items():
        op.execute(f"CREATE TRIGGER read_only BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION history_archive_read_only()")
        op.execute(sa.text("INSERT INTO history_archive (name, layer, switched_at) "
                           "VALUES (:n, :l, clock_timestamp())").bindparams(n=table, l=layer))


def downgrade() -> None:
    for table in ARCHIVES:
        op.execute(f"DROP TRIGGER read_only ON {table}")
    op.execute("DROP FUNCTION history_archive_read_only()")
    for table, constraint, column, referred, on_delete in FOREIGN_KEYS:
        missing = f"{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {referred} r WHERE r.id = {table}.{column})"
        if on_delete == "CASCADE":
            op.execute(f"DELETE FROM {table} WHERE {missing}")
        else:
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {missing}")
        op.create_foreign_key(constraint, table, referred, [column], ['id'], ondelete=on_delete)
    op.execute(_migration("0011").VENUE_HISTORY)
    op.drop_table('history_archive')
    op.execute(_migration("0031").RECORD_FEATURE_VERSION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.drop_index('ix_feature_version_layer_feature_id_cause', table_name='feature_version')
    op.drop_column('feature_version', 'cause')
