"""The clusters of the low-zoom vector tiles, counted ahead and kept current by the database (issue #20).

Below its clustering zoom (layers.tiles.cluster_below) a tile shows a layer as one point per grid cell
with ``point_count``. Counting them when the tile was asked for grouped every feature under it: a z8
tile at national size grouped tens of thousands of rows (59–304 times the demo's time). So
``tile_cell`` (migration 0038) holds, per layer, clustered zoom and cell, how many of the layer's
public features are in it and one of their ids, and a tile reads its at most 81 cells.

**Cells.** At zoom z a tile side has CLUSTER_CELLS cells of side ``cell_size_sql(z)`` (EPSG:3857
metres); a feature (a point; a line or polygon by a point on it, ``layers.tiles.point_sql``) is in
cell ``(round(x / side), round(y / side))`` — where ST_SnapToGrid put it in the live query, so a
cell's centre is a grid point and a cell centred on a tile's edge is in both tiles, with its whole
count (the live query counted each tile's half). ``feature_id`` is the cell's smallest id until that
feature leaves the cell; then another of its features, the first the table's spatial index finds.

**Kept by triggers generated from the declarations**: per layer a PL/pgSQL function
``tile_cells_<layer>`` of static SQL (planned once per connection, not once per statement) run AFTER
each INSERT, UPDATE and DELETE statement with its transition tables, and AFTER TRUNCATE:

* insert — the new rows' cells counted up (one upsert a statement, cells locked in one order);
* delete — counted down, emptied cells dropped, a cell whose kept feature left given another;
* update — the old row out and the new row in, only for rows whose geometry or public visibility
  changed (a lamp's status costs a join of the two transition tables and nothing else);
* truncate — the layer's cells gone.

Public visibility (``Layer.public_rows``) is a column of the layer's own table for every layer that
has one — plan zones' ``published``, reports' ``is_public`` (a stored generated column, which the
transition tables hold) — so the triggers see every change of it. Plans and plan zones are polygons
drawn as shapes at every zoom and have no cells anyway.

:func:`sync` — run by ``gis.db.upgrade`` after the migrations — gives every clustered public layer
(layers.tiles.has_cells) its function and four triggers, replaces them when the declaration changes
what they do, and then counts the layer afresh (:func:`rebuild`: the backfill); a layer no longer
clustered loses them and its cells. So a new layer, or a table a migration made again, needs no
hand-written SQL. ``hromada tiles rebuild-clusters [--layer NAME]`` recounts for repair, or after a
load that switched the triggers off.
"""
from __future__ import annotations

import logging
import re

import sqlalchemy as sa

from layers.base import Layer
from layers.query import visible_rows_sql
from layers.tiles import cell_size_sql, cluster_below, has_cells, point_sql

log = logging.getLogger(__name__)

PREFIX = "tile_cells_"  # every function (and trigger) this module makes starts with it
# event → (trigger name suffix, REFERENCING clause, pg_trigger.tgtype of an AFTER … FOR EACH STATEMENT)
EVENTS = {
    "INSERT": ("insert", "REFERENCING NEW TABLE AS new_rows", 4),
    "UPDATE": ("update", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows", 16),
    "DELETE": ("delete", "REFERENCING OLD TABLE AS old_rows", 8),
    "TRUNCATE": ("truncate", "", 32),
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def cell_layers(layers=None) -> list[Layer]:
    """The layers whose clusters the database keeps (of ``layers``, default: every declared layer)."""
    if layers is None:
        from layers.registry import all_layers

        layers = all_layers()
    return [layer for layer in layers if has_cells(layer)]


def function_name(layer: Layer) -> str:
    return f"{PREFIX}{layer.name}"


def trigger_names(layer: Layer) -> dict[str, str]:
    """Event → the name of the layer's trigger for it."""
    return {event: f"{PREFIX}{layer.name}_{suffix}" for event, (suffix, _, _) in EVENTS.items()}


def _check_names(layer: Layer) -> None:
    for name in (layer.name, layer.table, layer.id_column, layer.geometry_column, layer.public_rows or "x"):
        if not _NAME.match(name):
            raise ValueError(f"layer {layer.name}: {name!r} is not a plain SQL name")


# --- the SQL ---------------------------------------------------------------------------------------------

def _zooms(layer: Layer) -> str:
    """SQL: a FROM item ``s`` of the layer's clustered zooms ``z`` and their cells' side."""
    return f"(SELECT z, {cell_size_sql('z')} AS side FROM generate_series(0, {cluster_below(layer) - 1}) z) s"


def _cells_of(layer: Layer, source: str, alias: str) -> str:
    """SQL: ``(z, cx, cy, fid)`` — each row of ``source`` (a FROM clause with WHERE, its rows
    aliased ``alias``) in its cell at every clustered zoom. OFFSET 0 keeps the point computed once a
    row, not once a row and zoom."""
    return (f"SELECT s.z, round(ST_X(p.pt) / s.side)::int AS cx, round(ST_Y(p.pt) / s.side)::int AS cy, p.fid "
            f'FROM (SELECT {alias}."{layer.id_column}"::bigint AS fid, {point_sql(layer, alias)} AS pt '
            f"FROM {source} OFFSET 0) p, {_zooms(layer)}")


def _moved(layer: Layer, rows: str, alias: str, other: str, other_alias: str) -> str:
    """A FROM clause: the public rows of transition table ``rows`` whose cell may have changed in an
    update — no row of the same id on the ``other`` side, or one that was not public, or one with
    another geometry."""
    i, g = layer.id_column, layer.geometry_column
    public, was_public = visible_rows_sql(layer, alias), visible_rows_sql(layer, other_alias)
    return (f'{rows} {alias} LEFT JOIN {other} {other_alias} ON {other_alias}."{i}" = {alias}."{i}" '
            f'WHERE {public} AND ({other_alias}."{i}" IS NULL OR NOT ({was_public}) '
            f'OR {other_alias}."{g}" IS DISTINCT FROM {alias}."{g}")')


def _count_in(layer: Layer, moves: str) -> str:
    """The statement adding ``moves`` — ``(z, cx, cy, fid, d)``, d = +1 in, −1 out — to the cells:
    one upsert, in (z, cx, cy) order so that two writers lock the cells they share in the same order."""
    return f"""
        INSERT INTO tile_cell AS c (layer, z, cx, cy, point_count, feature_id)
        SELECT '{layer.name}', m.z, m.cx, m.cy, sum(m.d), min(m.fid) FILTER (WHERE m.d > 0)
        FROM ({moves}) m
        GROUP BY m.z, m.cx, m.cy
        ORDER BY m.z, m.cx, m.cy
        ON CONFLICT (layer, z, cx, cy) DO UPDATE
        SET point_count = c.point_count + EXCLUDED.point_count,
            feature_id = LEAST(c.feature_id, EXCLUDED.feature_id)"""


def _out_statements(layer: Layer, departed: str, arrived: str | None) -> str:
    """After an update or delete: drop the cells left empty; a cell whose kept feature left (and did
    not come back to the same cell) gets another of its features, found through the table's spatial
    index (the cell's box, widened a little against rounding; the exact cell checked on the point)."""
    left = f"SELECT z, cx, cy, fid FROM ({departed}) d"
    if arrived is not None:
        left += f" EXCEPT SELECT z, cx, cy, fid FROM ({arrived}) a"
    i, g = layer.id_column, layer.geometry_column
    box = ("ST_Transform(ST_Expand(ST_MakeEnvelope((c.cx - 0.5) * s.side, (c.cy - 0.5) * s.side, "
           "(c.cx + 0.5) * s.side, (c.cy + 0.5) * s.side, 3857), s.side / 64), 4326)")
    point = point_sql(layer, "t")
    return f"""
        DELETE FROM tile_cell c USING (SELECT DISTINCT z, cx, cy FROM ({departed}) d) e
        WHERE c.layer = '{layer.name}' AND c.z = e.z AND c.cx = e.cx AND c.cy = e.cy AND c.point_count <= 0;
        UPDATE tile_cell c SET feature_id = (
            SELECT t."{i}" FROM "{layer.table}" t
            WHERE t."{g}" && {box} AND {visible_rows_sql(layer, 't')}
              AND round(ST_X({point}) / s.side) = c.cx AND round(ST_Y({point}) / s.side) = c.cy
            LIMIT 1)
        FROM ({left}) k, LATERAL (SELECT {cell_size_sql('k.z')} AS side) s
        WHERE c.layer = '{layer.name}' AND c.z = k.z AND c.cx = k.cx AND c.cy = k.cy AND c.feature_id = k.fid;"""


def function_body(layer: Layer) -> str:
    """The PL/pgSQL body of the layer's trigger function (compared with the installed one by :func:`sync`)."""
    _check_names(layer)
    inserted = _cells_of(layer, f"new_rows n WHERE {visible_rows_sql(layer, 'n')}", "n")
    deleted = _cells_of(layer, f"old_rows o WHERE {visible_rows_sql(layer, 'o')}", "o")
    arrived = _cells_of(layer, _moved(layer, "new_rows", "n", "old_rows", "o"), "n")
    departed = _cells_of(layer, _moved(layer, "old_rows", "o", "new_rows", "n"), "o")
    return f"""
-- Generated by layers.tile_cells from the declaration of layer {layer.name}; gis.db.upgrade keeps it in step.
BEGIN
    IF TG_OP = 'INSERT' THEN{_count_in(layer, f"SELECT z, cx, cy, fid, 1 AS d FROM ({inserted}) i")};
    ELSIF TG_OP = 'DELETE' THEN{_count_in(layer, f"SELECT z, cx, cy, fid, -1 AS d FROM ({deleted}) o")};{
        _out_statements(layer, deleted, None)}
    ELSIF TG_OP = 'UPDATE' THEN{_count_in(layer, f"SELECT z, cx, cy, fid, 1 AS d FROM ({arrived}) i "
                                                 f"UNION ALL SELECT z, cx, cy, fid, -1 FROM ({departed}) o")};{
        _out_statements(layer, departed, arrived)}
    ELSE  -- TRUNCATE
        DELETE FROM tile_cell WHERE layer = '{layer.name}';
    END IF;
    RETURN NULL;
END
"""


def _create_statements(layer: Layer) -> list[str]:
    function = function_name(layer)
    body = function_body(layer).replace("$body$", "")
    return [f'CREATE OR REPLACE FUNCTION "{function}"() RETURNS trigger LANGUAGE plpgsql AS $body${body}$body$'] + [
        f'CREATE TRIGGER "{trigger_names(layer)[event]}" AFTER {event} ON "{layer.table}" {referencing} '
        f'FOR EACH STATEMENT EXECUTE FUNCTION "{function}"()' for event, (_, referencing, _) in EVENTS.items()]


# --- counting afresh -----------------------------------------------------------------------------------

def rebuild(conn: sa.Connection, layer: Layer) -> int:
    """Count ``layer``'s cells afresh from its table (in the caller's transaction, writers to the
    table held off until it ends); returns how many cells it has. The points are computed once, then
    grouped zoom by zoom."""
    _check_names(layer)
    conn.execute(sa.text(f'LOCK TABLE "{layer.table}" IN SHARE MODE'))
    conn.execute(sa.text("DELETE FROM tile_cell WHERE layer = :l"), {"l": layer.name})
    conn.execute(sa.text(f"""
        CREATE TEMPORARY TABLE _tile_cell_points ON COMMIT DROP AS
        SELECT t."{layer.id_column}"::bigint AS fid, ST_X(p) AS x, ST_Y(p) AS y
        FROM (SELECT t."{layer.id_column}", {point_sql(layer, 't')} AS p FROM "{layer.table}" t
              WHERE {visible_rows_sql(layer, 't')}) t"""))
    cells = 0
    for z in range(cluster_below(layer)):
        cells += conn.execute(sa.text(f"""
            INSERT INTO tile_cell (layer, z, cx, cy, point_count, feature_id)
            SELECT :l, :z, round(x / {cell_size_sql(':z')})::int AS cx, round(y / {cell_size_sql(':z')})::int AS cy,
                   count(*), min(fid)
            FROM _tile_cell_points GROUP BY cx, cy"""), {"l": layer.name, "z": z}).rowcount
    conn.execute(sa.text("DROP TABLE _tile_cell_points"))
    return cells


def rebuild_all(conn: sa.Connection, layers=None) -> dict[str, int]:
    """:func:`rebuild` every layer with cells (of ``layers``); layer name → its cells."""
    return {layer.name: rebuild(conn, layer) for layer in cell_layers(layers)}


# --- in step with the declarations ---------------------------------------------------------------------

def _installed(conn: sa.Connection) -> tuple[dict[str, str], dict[str, set]]:
    """The functions this module made (name → body) and their triggers (function → {(table, name,
    tgtype, enabled with its transition tables)})."""
    functions = dict(conn.execute(sa.text("""
        SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE :prefix"""), {"prefix": PREFIX.replace("_", r"\_") + "%"}
    ).all())
    triggers: dict[str, set] = {name: set() for name in functions}
    for function, table, name, kind, fine in conn.execute(sa.text("""
            SELECT p.proname, c.relname, t.tgname, t.tgtype, t.tgenabled = 'O'
                   AND (t.tgtype & 24 = 0 OR t.tgoldtable = 'old_rows')
                   AND (t.tgtype & 20 = 0 OR t.tgnewtable = 'new_rows')
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = current_schema() AND p.proname LIKE :prefix"""),
            {"prefix": PREFIX.replace("_", r"\_") + "%"}):
        triggers[function].add((table, name, kind, fine))
    return functions, triggers


def _wanted_triggers(layer: Layer) -> set:
    return {(layer.table, trigger_names(layer)[event], kind, True) for event, (_, _, kind) in EVENTS.items()}


def sync(conn: sa.Connection, layers=None) -> list[str]:
    """Make the cell triggers what the declarations say, and the cells right where they were not:
    a layer with cells whose function or triggers are missing, different or switched off gets them
    made again and its cells counted afresh; the function of a layer that has no cells now (or no
    table) is dropped with its triggers and cells. Does nothing before migration 0038. Returns what it
    did, a line a change (nothing when all was in step)."""
    if conn.execute(sa.text("SELECT to_regclass('tile_cell')")).scalar() is None:
        return []
    existing = {r[0] for r in conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    wanted = {function_name(layer): layer for layer in cell_layers(layers) if layer.table in existing}
    functions, triggers = _installed(conn)
    done = []
    for function in sorted(set(functions) - set(wanted)):
        conn.execute(sa.text(f'DROP FUNCTION "{function}"() CASCADE'))  # and its triggers
        gone = conn.execute(sa.text("DELETE FROM tile_cell WHERE layer = :l"),
                            {"l": function.removeprefix(PREFIX)}).rowcount
        done.append(f"dropped {function}, its triggers and {gone} cells")
    for function, layer in sorted(wanted.items()):
        if functions.get(function) == function_body(layer) and triggers.get(function) == _wanted_triggers(layer):
            continue
        for table, name, _, _ in triggers.get(function, ()):
            conn.execute(sa.text(f'DROP TRIGGER "{name}" ON "{table}"'))
        for statement in _create_statements(layer):
            conn.exec_driver_sql(statement)
        done.append(f"made {function} and its triggers on {layer.table}; {rebuild(conn, layer)} cells counted")
    if done:
        conn.execute(sa.text("ANALYZE tile_cell"))  # the planner's estimates for the tiles' range scans
    for line in done:
        log.info("tile cells: %s", line)
    return done

