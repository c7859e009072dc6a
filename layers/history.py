"""Every version of every feature of the layers that keep history, kept by the database (issue #19).

A layer declares ``history="staff"`` or ``history="public"`` (``layers.base.Layer.history``); on
each such layer's table three triggers (after INSERT, UPDATE and DELETE statements) run the PL/pgSQL
function ``record_feature_version(layer, id column, geometry column, ignored columns…)`` (migration
0031) on the statement's rows, whatever made them — a form, the OGC API, an import's COPY, a report
changing a lamp's status, SQL typed by hand. For each feature changed it closes the current version
(``valid_to``) and writes the new one into ``feature_version``: the whole row (geometry as RFC 7946
GeoJSON to the last digit, so it reads back exactly), the columns an update changed (None for an insert or a
delete), and who, why and what caused it from the transaction's settings, which :func:`acting` sets
(``hromada.user_id``, ``hromada.user_label``, ``hromada.reason``, ``hromada.versionless``,
``hromada.cause`` — since migration 0032: ``report:123`` for a lamp a report moved, ``proposal:45``
for an approved venue proposal; :func:`because` sets the cause alone). A write that changes
nothing, or nothing but ``imported_at``, is no new version.

The triggers are generated from the declarations (:func:`trigger_statements`) and kept in step with
them by :func:`sync_triggers`, which ``gis.db.upgrade`` runs after every migration: a layer that
starts keeping history (or a table made again) gets its triggers, one that stops loses them.

A feature that existed before its layer kept history gets, at its first change, the row before that
change as version 1 (``valid_from`` its ``imported_at``), so as-of, diff and revert reach back to it.
TRUNCATE is not recorded.

A bulk import writes no insert version per feature (:class:`inserts_in_bulk`, migration 0039): its
INSERT is one ``feature_insert_batch`` row (the ids, who, why, ``import:<run id>``, when). Until such a
feature first changes, the readers give its row with its batch as version 1; its first change stores
that version 1 (as above, with the batch's who and when) before the new one.

Plain values in and out, no Flask: :func:`versions`, :func:`as_of`, :func:`diff`, :func:`revert`,
:func:`version_before_cause` (the version before the first one a cause made), :func:`switched_at`
(when a hand-written history this replaced stopped, ``history_archive``), and :func:`history_for`
(what a reader with given roles may see of it) for the web layer.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.models import SRID, metadata
from layers.base import HISTORY_PUBLIC, Layer, label

log = logging.getLogger(__name__)

FUNCTION = "record_feature_version"
# Bookkeeping columns whose change alone is no new version (an import writing the same row again).
IGNORED_COLUMNS = ("imported_at",)
# One AFTER … FOR EACH STATEMENT trigger per event, with the statement's rows as transition tables
# (one set-based pass per statement; a row-level trigger cost an import five times as much):
# event → (trigger name suffix, REFERENCING clause, pg_trigger.tgtype).
EVENTS = {
    "INSERT": ("insert", "NEW TABLE AS new_rows", 4),
    "UPDATE": ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows", 16),
    "DELETE": ("delete", "OLD TABLE AS old_rows", 8),
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_ID = 2**31 - 1  # the layers' ids are integers
KYIV = ZoneInfo("Europe/Kyiv")


# --- the triggers, from the declarations ----------------------------------------------------------

def history_layers(layers=None) -> list[Layer]:
    """The layers that keep history (of ``layers``, default: every declared layer)."""
    if layers is None:
        from layers.registry import all_layers

        layers = all_layers()
    return [layer for layer in layers if layer.keeps_history]


def trigger_names(layer: Layer) -> dict[str, str]:
    """Event → the name of the layer's history trigger for it."""
    return {event: f"{layer.table}_version_{suffix}" for event, (suffix, _, _) in EVENTS.items()}


def trigger_args(layer: Layer) -> tuple[str, ...]:
    """The trigger function's arguments: the layer's name, its id and geometry columns, then the
    columns of its table whose change alone makes no new version."""
    table = metadata.tables.get(layer.table)
    ignored = [c for c in IGNORED_COLUMNS if table is not None and c in table.c]
    return (layer.name, layer.id_column, layer.geometry_column, *ignored)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _statement(layer: Layer, event: str) -> str:
    for name in (layer.table, layer.id_column, layer.geometry_column):
        if not _NAME.match(name):
            raise ValueError(f"layer {layer.name}: {name!r} is not a plain SQL name")
    _, referencing, _ = EVENTS[event]
    args = ", ".join(_literal(a) for a in trigger_args(layer))
    return (f'CREATE TRIGGER "{trigger_names(layer)[event]}" AFTER {event} ON "{layer.table}" '
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}({args})")


def trigger_statements(layers=None, *, tables=None) -> list[str]:
    """The ``CREATE TRIGGER`` statements (three a table: insert, update, delete) for every layer that
    keeps history — only those whose table is in ``tables``, when given (a migration creates the
    triggers of the tables there are by then)."""
    return [_statement(layer, event) for layer in history_layers(layers)
            if tables is None or layer.table in tables for event in EVENTS]


def _installed(conn: sa.Connection) -> list[tuple[str, str, tuple[str, ...], int, bool]]:
    """(table, trigger, arguments, tgtype, whether enabled with its transition tables) of every
    trigger running record_feature_version in the current schema."""
    rows = conn.execute(sa.text(f"""
        SELECT c.relname, t.tgname, t.tgargs, t.tgtype, t.tgenabled = 'O'
               AND (t.tgtype & 24 = 0 OR t.tgoldtable = 'old_rows') AND (t.tgtype & 20 = 0 OR t.tgnewtable = 'new_rows')
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.tgfoid = '{FUNCTION}()'::regprocedure AND n.nspname = current_schema()
        ORDER BY c.relname, t.tgname""")).all()
    return [(table, name, tuple(a.decode() for a in bytes(args).split(b"\0")[:-1]), kind, fine)
            for table, name, args, kind, fine in rows]


def sync_triggers(conn: sa.Connection, layers=None) -> list[str]:
    """Make the history triggers what the declarations say: on each existing table of a layer that
    keeps history its three, with the declaration's arguments; none elsewhere. Does nothing before
    migration 0031 (no trigger function). Returns what it did, one line a change (nothing when all
    was in step)."""
    if conn.execute(sa.text(f"SELECT to_regprocedure('{FUNCTION}()')")).scalar() is None:
        return []
    existing = {r[0] for r in conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    wanted = {layer.table: layer for layer in history_layers(layers) if layer.table in existing}
    done, kept = [], set()
    for table, name, args, kind, fine in _installed(conn):
        layer = wanted.get(table)
        event = next((e for e, (_, _, k) in EVENTS.items() if k == kind), None)
        if (layer is not None and fine and event is not None and name == trigger_names(layer)[event]
                and args == trigger_args(layer)):
            kept.add((table, event))
            continue
        conn.execute(sa.text(f'DROP TRIGGER "{name}" ON "{table}"'))
        done.append(f"dropped {name} on {table}")
    for table, layer in sorted(wanted.items()):
        for event in EVENTS:
            if (table, event) not in kept:
                conn.execute(sa.text(_statement(layer, event)))
                done.append(f"created {trigger_names(layer)[event]} on {table}")
    for line in done:
        log.info("history triggers: %s", line)
    return done


# --- who writes ----------------------------------------------------------------------------------

class acting:
    """Tell the history trigger who writes and why, for the rest of the transaction (``SET LOCAL``):

        with engine.begin() as conn, history.acting(conn, user.id, user.full_name, "survey"):
            conn.execute(...)

    Leaving the ``with`` block (without an error) clears them again, so later writes of the same
    transaction are not put on this person. Called without ``with``, the settings last until the
    transaction ends. ``versionless``: the write named no version of the feature it changed (a
    client that does not send one) — flagged for review. ``cause``: what made the change, as
    ``"<kind>:<id>"`` (``report:123``, ``proposal:45``), kept in the version's ``cause`` so a
    reader finds the versions a report or proposal made (:func:`version_before_cause`). Needs a
    transaction: on an autocommit connection the settings would end with the statement that sets them.
    """

    def __init__(self, conn: sa.Connection, user_id: int | None, user_label: str | None,
                 reason: str | None = None, *, versionless: bool = False, cause: str | None = None):
        self.conn = conn
        _set_who(conn, user_id, user_label, reason, versionless, cause)

    def __enter__(self) -> acting:
        return self

    def __exit__(self, kind, _value, _tb) -> None:
        if kind is None:
            _set_who(self.conn, None, None, None, False, None)


def _set_who(conn: sa.Connection, user_id, user_label, reason, versionless: bool, cause) -> None:
    conn.execute(sa.text("""
        SELECT set_config('hromada.user_id', :u, true), set_config('hromada.user_label', :l, true),
               set_config('hromada.reason', :r, true), set_config('hromada.versionless', :v, true),
               set_config('hromada.cause', :c, true)"""),
        {"u": "" if user_id is None else str(int(user_id)), "l": (user_label or "").strip(),
         "r": (reason or "").strip(), "v": "on" if versionless else "", "c": (cause or "").strip()})


class because:
    """Name what causes the writes (``hromada.cause``) and nothing else, keeping who acts and why as
    the transaction already says — for a change that follows another (a report moving a lamp while
    staff act on the report):

        with history.because(conn, f"report:{report_id}"):
            conn.execute(...)

    Leaving the ``with`` block (without an error) puts back the cause there was before.
    """

    def __init__(self, conn: sa.Connection, cause: str | None):
        self.conn = conn
        self.before = conn.execute(sa.text("SELECT current_setting('hromada.cause', true)")).scalar() or ""
        conn.execute(sa.text("SELECT set_config('hromada.cause', :c, true)"), {"c": (cause or "").strip()})

    def __enter__(self) -> because:
        return self

    def __exit__(self, kind, _value, _tb) -> None:
        if kind is None:
            self.conn.execute(sa.text("SELECT set_config('hromada.cause', :c, true)"), {"c": self.before})


class inserts_in_bulk:
    """Inside the caller's transaction: the INSERTs into ``layer``'s table write one row in
    ``feature_insert_batch`` (the ids, who, why, the cause, when) instead of an insert version per
    feature (migration 0039) — for a bulk import, whose 200,000 versions took half its time. Nothing a
    reader sees is lost: until a feature first changes, its row and its batch are its version 1
    (:func:`versions`), and its first change writes that version 1 with the batch's who and when.
    Updates and deletes are recorded as always. A transaction-local setting, not ``ALTER TABLE …
    DISABLE TRIGGER``: no lock that would hold every other edit of the layer until the import commits.

        with history.inserts_in_bulk(conn, layer):
            conn.execute(...)  # COPY or INSERT … SELECT

    Leaving the block (without an error) switches it off again; an error leaves it to the rollback.
    """

    def __init__(self, conn: sa.Connection, layer: Layer):
        self.conn = conn
        conn.execute(sa.text("SELECT set_config('hromada.bulk_insert', :l, true)"), {"l": layer.name})

    def __enter__(self) -> inserts_in_bulk:
        return self

    def __exit__(self, kind, _value, _tb) -> None:
        if kind is None:
            self.conn.execute(sa.text("SELECT set_config('hromada.bulk_insert', '', true)"))


@dataclass(frozen=True)
class Author:
    """Who reverts: the user's id and the name the history shows."""

    user_id: int | None
    label: str | None = None


# --- reading the history ---------------------------------------------------------------------------

def _layer(layer: Layer | str) -> Layer:
    if isinstance(layer, str):
        from layers.registry import get_layer

        layer = get_layer(layer)
    if not layer.keeps_history:
        raise NotFound(f"Шар {layer.name!r} не зберігає історії змін", f"Layer {layer.name!r} keeps no history")
    return layer


def _feature_id(feature_id) -> int:
    if isinstance(feature_id, bool) or not isinstance(feature_id, int) or not 0 < feature_id <= MAX_ID:
        raise NotFound(f"Об'єкта {feature_id!r} немає", f"There is no feature {feature_id!r}")
    return feature_id


_COLUMNS = "version, op, valid_from, valid_to, row, changed, user_id, user_label, reason, versionless, cause"


def _entry(row) -> dict:
    return {"version": row["version"], "op": row["op"], "valid_from": row["valid_from"], "valid_to": row["valid_to"],
            "row": row["row"], "changed": row["changed"], "user_id": row["user_id"],
            "user_label": row["user_label"], "reason": row["reason"], "versionless": row["versionless"],
            "cause": row["cause"]}


def versions(conn: sa.Connection, layer: Layer | str, feature_id: int) -> list[dict]:
    """Every version of a feature, newest first: ``version``, ``op`` (insert, update, delete),
    ``valid_from``/``valid_to`` (None: current), ``row`` (the whole row then; for a delete, as it was),
    ``changed`` (the columns an update changed; None for an insert or a delete), ``user_id``, ``user_label``,
    ``reason``, ``versionless``, ``cause``. A feature unchanged since a bulk import wrote it
    (:class:`inserts_in_bulk`) has its version 1 from its row and the import's batch. Empty for
    another feature that has not changed since its history began."""
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM feature_version WHERE layer = :l AND feature_id = :f ORDER BY version DESC"""),
        {"l": layer.name, "f": feature_id}).mappings().all()
    if not rows:
        first = _bulk_first_version(conn, layer, feature_id)
        return [first] if first is not None else []
    return [_entry(r) for r in rows]


def _bulk_first_version(conn: sa.Connection, layer: Layer, feature_id: int, now: dict | None = None) -> dict | None:
    """Version 1 of a feature a bulk insert wrote without one (:class:`inserts_in_bulk`) and nothing has
    changed since: its row now, with who, why, cause and when from its batch; None for any other
    feature. Only for a feature without versions (its first change writes this version 1 for good)."""
    batch = conn.execute(sa.text("""
        SELECT at, user_id, user_label, reason, cause FROM feature_insert_batch
        WHERE layer = :l AND ids @> CAST(:f AS bigint) ORDER BY id DESC LIMIT 1"""),
        {"l": layer.name, "f": feature_id}).mappings().first()
    if batch is None:
        return None
    now = now if now is not None else current_row(conn, layer, feature_id)
    if now is None:  # (a deleted feature has versions: its deletion wrote them)
        return None
    return {"version": 1, "op": "insert", "valid_from": batch["at"], "valid_to": None, "row": now, "changed": None,
            "user_id": batch["user_id"], "user_label": batch["user_label"], "reason": batch["reason"],
            "versionless": False, "cause": batch["cause"]}


def _version(conn: sa.Connection, layer: Layer, feature_id: int, version: int) -> dict:
    row = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM feature_version WHERE layer = :l AND feature_id = :f AND version = :v"""),
        {"l": layer.name, "f": feature_id, "v": version}).mappings().first()
    if row is None and version == 1:  # no version 1 stored: the feature has none yet
        first = _bulk_first_version(conn, layer, feature_id)
        if first is not None:
            return first
    if row is None:
        raise NotFound(f"Версії {version} об'єкта {feature_id} у шарі {layer.name} немає",
                       f"Feature {feature_id} of layer {layer.name} has no version {version}")
    return _entry(row)


def current_row(conn: sa.Connection, layer: Layer, feature_id: int) -> dict | None:
    """The feature's row now, as the history keeps rows; None when there is none."""
    geom = layer.geometry_column
    return conn.execute(sa.text(f"""
        SELECT to_jsonb(t) - '{geom}' || jsonb_build_object('{geom}', ST_AsGeoJSON(t."{geom}", 15)::jsonb)
        FROM "{layer.table}" t WHERE t."{layer.id_column}" = :f"""), {"f": feature_id}).scalar()


def as_of(conn: sa.Connection, layer: Layer | str, feature_id: int, moment: dt.datetime) -> dict | None:
    """The version of the feature that was current at ``moment`` (as :func:`versions` gives it);
    None when the feature did not exist then (not yet, or deleted). A feature unchanged since its
    history began is as it is now from its ``imported_at`` on (``version`` None then; 1, with who
    imported it, for one unchanged since a bulk import, from the import on)."""
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    if moment.tzinfo is None:  # the service's times are Kyiv time
        moment = moment.replace(tzinfo=KYIV)
    row = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM feature_version WHERE layer = :l AND feature_id = :f AND valid_from <= :t
        ORDER BY version DESC LIMIT 1"""), {"l": layer.name, "f": feature_id, "t": moment}).mappings().first()
    if row is not None:
        return None if row["op"] == "delete" else _entry(row)
    if conn.execute(sa.text("SELECT 1 FROM feature_version WHERE layer = :l AND feature_id = :f LIMIT 1"),
                    {"l": layer.name, "f": feature_id}).first() is not None:
        return None  # its history begins later
    now = current_row(conn, layer, feature_id)
    if now is None:
        return None
    first = _bulk_first_version(conn, layer, feature_id, now)
    if first is not None:
        return first if first["valid_from"] <= moment else None
    since = now.get("imported_at")
    if since is not None and dt.datetime.fromisoformat(since) > moment:
        return None
    return {"version": None, "op": None, "valid_from": dt.datetime.fromisoformat(since) if since else None,
            "valid_to": None, "row": now, "changed": None, "user_id": None, "user_label": None, "reason": None,
            "versionless": False, "cause": None}


def version_before_cause(conn: sa.Connection, layer: Layer | str, feature_id: int, cause: str) -> dict | None:
    """The version of the feature just before the first one ``cause`` made (as :func:`versions` gives
    it: for a lamp a report turned faulty, the lamp as it was before the report); None when ``cause``
    made no version of it, or made its first one."""
    layer = _layer(layer)
    row = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM feature_version WHERE layer = :l AND feature_id = :f AND version = (
            SELECT min(version) FROM feature_version WHERE layer = :l AND feature_id = :f AND cause = :c) - 1"""),
        {"l": layer.name, "f": _feature_id(feature_id), "c": cause}).mappings().first()
    return _entry(row) if row is not None else None


def switched_at(conn: sa.Connection, archive: str) -> dt.datetime | None:
    """When the hand-written history ``archive`` (``lamp_status_change``, ``venue_history``) stopped
    being written and feature_version took over (migration 0032); None when there is no such archive."""
    return conn.execute(sa.text("SELECT switched_at FROM history_archive WHERE name = :n"), {"n": archive}).scalar()


def _state(entry: dict) -> dict:
    return {} if entry["op"] == "delete" else entry["row"]


def diff(conn: sa.Connection, layer: Layer | str, feature_id: int, v1: int, v2: int) -> dict:
    """What differs between two versions of a feature: ``changes`` maps each column to its value
    ``before`` (in ``v1``) and ``after`` (in ``v2``); a delete version stands for no feature at all
    (``exists`` says which side had one)."""
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    first, second = _version(conn, layer, feature_id, v1), _version(conn, layer, feature_id, v2)
    before, after = _state(first), _state(second)
    changes = {k: {"before": before.get(k), "after": after.get(k)}
               for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}
    return {"from": v1, "to": v2, "exists": {"from": bool(before), "to": bool(after)}, "changes": changes}


def feature_hromada_id(conn: sa.Connection, layer: Layer | str, feature_id: int) -> int | None:
    """The hromada a feature belongs (or, deleted, belonged) to; None for a feature in no hromada.
    NotFound when the feature neither exists nor has a history."""
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    column = layer.hromada_column
    now = conn.execute(sa.text(
        f'SELECT {f"t.{column}" if column else "NULL"} AS h FROM "{layer.table}" t '
        f'WHERE t."{layer.id_column}" = :f'), {"f": feature_id}).first()
    if now is not None:
        return now.h
    last = conn.execute(sa.text("""
        SELECT row FROM feature_version WHERE layer = :l AND feature_id = :f ORDER BY version DESC LIMIT 1"""),
        {"l": layer.name, "f": feature_id}).scalar()
    if last is None:
        raise NotFound(f"У шарі {layer.name} немає об'єкта {feature_id}",
                       f"Layer {layer.name} has no feature {feature_id}")
    value = last.get(column) if column else None
    return int(value) if isinstance(value, int) else None


# --- what a reader may see ---------------------------------------------------------------------------

FULL, PUBLIC_ONLY = "full", "public"


def reader_access(layer: Layer, roles=frozenset()) -> str | None:
    """What ``roles`` (held in the feature's hromada) may read of a feature's history: ``"full"``
    for those who may edit the layer (every field, who and why), ``"public"`` for anyone when the
    layer's history is public (its public fields, not who or why), else None."""
    if layer.permissions.can_edit(roles):
        return FULL
    if layer.history == HISTORY_PUBLIC and layer.permissions.can_view(roles):
        return PUBLIC_ONLY
    return None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def history_for(conn: sa.Connection, layer: Layer | str, feature_id: int, access: str, lang: str = "uk") -> dict:
    """The feature's history as a reader with ``access`` (:func:`reader_access`) may see it, newest
    first: per version its number, operation, period, the fields that changed (by field name, and
    ``geometry``), the fields' values and the geometry then. ``"full"`` adds who, why, what caused
    it (``cause``), whether the write named no version, and the row's other columns (``extra``).
    ``"public"`` shows public fields only (not who, why or the cause), leaves out versions that
    changed nothing public and rows that are not public (``Layer.public_rows``)."""
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    full = access == FULL
    fields = layer.fields if full else layer.public_fields
    by_column = {f.column_name: f.name for f in fields}
    frame = {layer.id_column, layer.geometry_column, *(f.column_name for f in layer.fields)}
    out = []
    for entry in versions(conn, layer, feature_id):
        row = entry["row"]
        if not full and layer.public_rows and row.get(layer.public_rows) is not True:
            continue
        changed = None if entry["changed"] is None else [
            ("geometry" if c == layer.geometry_column else by_column[c]) for c in entry["changed"]
            if c == layer.geometry_column or c in by_column]
        if not full and entry["op"] == "update" and not changed:
            continue  # nothing the public sees changed
        item = {"version": entry["version"], "op": entry["op"], "valid_from": _iso(entry["valid_from"]),
                "valid_to": _iso(entry["valid_to"]), "changed": changed,
                "properties": {f.name: row.get(f.column_name) for f in fields},
                "geometry": row.get(layer.geometry_column)}
        if full:
            item.update(user_id=entry["user_id"], user_label=entry["user_label"], reason=entry["reason"],
                        versionless=entry["versionless"], cause=entry["cause"],
                        changed_columns=entry["changed"],
                        extra={k: v for k, v in row.items() if k not in frame})
        out.append(item)
    now = current_row(conn, layer, feature_id)
    exists = now is not None and (full or not layer.public_rows or now.get(layer.public_rows) is True)
    if not out and not exists and not full:
        raise NotFound(f"У шарі {layer.name} немає об'єкта {feature_id}",
                       f"Layer {layer.name} has no feature {feature_id}")
    return {"layer": layer.name, "title": label(layer.title, lang), "feature_id": feature_id, "exists": exists,
            "access": access, "versions": out}


# --- reverting ---------------------------------------------------------------------------------------

def _writable_columns(layer: Layer) -> list[str]:
    """The table's columns a revert writes back: all but the id and the generated ones."""
    table = metadata.tables[layer.table]
    return [c.name for c in table.columns if c.computed is None and c.name != layer.id_column]


def revert(conn: sa.Connection, layer: Layer | str, feature_id: int, version: int, actor: Author, *,
           roles=frozenset(), reason: str | None = None) -> dict:
    """Make version ``version`` of a feature current again, as a new version: its row's values are
    written back (a deleted feature comes back under its own id). ``roles`` are those the caller
    holds in the feature's hromada; one that may not edit the layer is Forbidden (403).

    NotFound (404) when there is no such version; Conflict (409) for a deletion (reverting to "no
    feature" is a delete, done where features are deleted) or when the database refuses the old
    row as it is now (a unit it names was removed since, another feature took its number). Nothing
    to change leaves the feature as it is. Returns ``feature_id``, ``version`` (the one now
    current), ``reverted_to`` and ``changed`` (the columns the revert changed).
    """
    layer = _layer(layer)
    feature_id = _feature_id(feature_id)
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version <= MAX_ID:
        raise InvalidInput("Версія має бути цілим додатним числом", "The version must be a positive whole number")
    if not layer.permissions.can_edit(roles):
        raise Forbidden(f"Змінювати шар «{label(layer.title, 'uk')}» у цій громаді вам не дозволено",
                        f"You may not change layer “{label(layer.title, 'en')}” in this hromada")
    # One writer of a feature at a time, also while it is deleted (two reverts would insert it twice).
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:l), :f)"), {"l": layer.name, "f": feature_id})
    target = _version(conn, layer, feature_id, version)
    if target["op"] == "delete":
        raise Conflict(f"Версія {version} — це вилучення об'єкта; щоб вилучити його знову, вилучіть його",
                       f"Version {version} is the feature's deletion; to delete it again, delete it")
    columns = _writable_columns(layer)
    listed = ", ".join(f'"{c}"' for c in columns)
    # The values as the table's types; the geometry from its GeoJSON, in the storage CRS.
    values = ", ".join(f"ST_SetSRID(ST_GeomFromGeoJSON(CAST(:row AS jsonb) -> '{c}'), {SRID})"
                       if c == layer.geometry_column else f'r."{c}"' for c in columns)
    params = {"row": json.dumps(target["row"]), "f": feature_id}
    record = f"CAST(:row AS jsonb) - '{layer.geometry_column}'"
    exists = conn.execute(sa.text(f'SELECT 1 FROM "{layer.table}" WHERE "{layer.id_column}" = :f FOR UPDATE'),
                          {"f": feature_id}).first() is not None
    before = conn.execute(sa.text("SELECT COALESCE(max(version), 0) FROM feature_version WHERE layer = :l "
                                  "AND feature_id = :f"), {"l": layer.name, "f": feature_id}).scalar_one()
    why = (reason or "").strip() or f"повернення до версії {version} / revert to version {version}"
    try:
        with conn.begin_nested(), acting(conn, actor.user_id, actor.label, why):
            if exists:
                conn.execute(sa.text(f"""
                    UPDATE "{layer.table}" t SET ({listed}) = (
                        SELECT {values} FROM jsonb_populate_record(NULL::"{layer.table}", {record}) r)
                    WHERE t."{layer.id_column}" = :f"""), params)
            else:
                conn.execute(sa.text(f"""
                    INSERT INTO "{layer.table}" ("{layer.id_column}", {listed})
                    SELECT :f, {values} FROM jsonb_populate_record(NULL::"{layer.table}", {record}) r"""), params)
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        log.info("revert of %s %s to version %s refused: %s", layer.name, feature_id, version, exc.orig)
        raise Conflict(f"Повернути версію {version} не можна: база даних не приймає її значень тепер "
                       f"({_constraint(exc)})",
                       f"Version {version} cannot be brought back: the database refuses its values now "
                       f"({_constraint(exc)})") from None
    latest = conn.execute(sa.text("""
        SELECT version, changed FROM feature_version WHERE layer = :l AND feature_id = :f
        ORDER BY version DESC LIMIT 1"""), {"l": layer.name, "f": feature_id}).first()
    made = latest is not None and latest.version > before
    # (no version stored: a feature unchanged since its bulk insert, which is its version 1)
    return {"feature_id": feature_id, "version": latest.version if latest else 1, "reverted_to": version,
            "changed": (list(latest.changed) if latest.changed is not None else None) if made else []}


def _constraint(exc: sa.exc.DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) or type(exc.orig).__name__
