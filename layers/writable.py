"""Collections that clients may write through OGC API – Features Part 4 and WFS-T (issues #9, #19).

:func:`writable` gives a :class:`Writable` for every layer whose declaration allows editing
(``Permissions.editing``: street lamps, road segments, communal property, parcels, Wi-Fi points,
heritage objects …), backed by ``layers.editing`` — the one editing mechanism, its roles, value
rules, versions (``feature_version``) and history —, and for ``plan_zones``, which keeps its plan's
workflow (``layers.plans``: the plan's rules on save, its own versions and history). Either way the
rules on save, the versions and the history are the same as for any other way of editing. A write
that names the version it edits (the ETag) is checked by it, so of two clients editing the same
feature with the same ETag exactly one wins and the other is told (412) with the current version.

Writes that name no version (issue #19: QGIS 3.32+ sends PATCH and DELETE without If-Match) are
taken where nothing can be lost silently, and recorded as such:

- a **merge** (PATCH) changes only the properties (and the geometry) it names, against the version
  current when it is written — under the plan's lock (another layer's: the feature's row lock), so
  it cannot overwrite a write it did not see land — and the new version is marked ``versionless``;
- a **deletion** is a version too (it can be seen and reverted), marked ``versionless``;
- a **replacement** (PUT) without a version is still refused (428): it would set every property.

The client's base is unknown, so a versionless write is flagged ``needs_review`` (with the
properties concerned in ``review_fields``) when a value it replaces was set by another account
within :data:`REVIEW_WINDOW` — the one case where it may undo a colleague's fresh change. "Set by"
is the version that gave the property its current value; a value empty since the zone was created
is nobody's; a deletion replaces every value. The hromada's editors list flagged versions
(:func:`versionless_edits`; plan zones: :func:`plan_zone_versionless_edits`) and revert what should
not have been.

Framework-free: the web layer (webmap/ogc_write.py) only parses requests and renders.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from layers import editing, plans
from layers.base import Layer
from layers.editing import GEOMETRY, REVIEW_WINDOW, fresh_values_replaced  # noqa: F401  (one set of rules)


@dataclass(frozen=True)
class Writable:
    layer: Layer
    # The column incremented on every write (plan zones); None: the version is the feature's current
    # version in feature_version (layers.editing) — read it with version_expression / version_of.
    version_column: str | None
    server_fields: frozenset[str]  # kept by the server: ignored when a client sends them back (QGIS does)
    # create(conn, editor, properties, geometry, repair=…) → the new feature's id
    create: Callable[..., int]
    # update(conn, editor, id, expected_version, properties=…, geometry=…, replace=…, repair=…)
    update: Callable[..., None]
    # delete(conn, editor, id, expected_version)
    delete: Callable[..., None]
    # Writes that name no version (None: refused with 428, as before issue #19):
    # update_versionless(conn, editor, id, properties=…, geometry=…, repair=…) → Versionless
    update_versionless: Callable[..., "Versionless"] | None = None
    # delete_versionless(conn, editor, id) → Versionless
    delete_versionless: Callable[..., "Versionless"] | None = None

    def version_expression(self, table: sa.Table | None = None) -> sa.ColumnElement:
        """The feature's current version as SQL over the layer's table (for a SELECT of features)."""
        if table is None:
            from layers.query import table_of

            table = table_of(self.layer)
        if self.version_column is not None:
            return table.c[self.version_column]
        return editing.version_expression(self.layer, table.c[self.layer.id_column])

    def version_of(self, conn: sa.Connection, feature_id: int) -> int | None:
        """The feature's current version; None when there is no such feature."""
        from layers.query import table_of

        table = table_of(self.layer)
        return conn.execute(sa.select(self.version_expression(table))
                            .where(table.c[self.layer.id_column] == feature_id)).scalar()

    def etag(self, feature_id: int, version: int) -> str:
        """A strong ETag (Part 4 needs strong ones for If-Match): collection, feature and version."""
        return f'"{self.layer.name}-{feature_id}-v{version}"'

    def versions_named(self, if_match: str, feature_id: int) -> list[int]:
        """The versions of feature ``feature_id`` that an If-Match header names (weak tags never match).

        A tag may carry the content coding its answer was compressed with (``"…-v3:gzip"``, as
        Flask-Compress marks a compressed representation): it names the same version."""
        coding = "(?::(?:gzip|br|zstd|deflate))?"
        pattern = re.compile(rf'"{re.escape(self.layer.name)}-{feature_id}-v([0-9]{{1,9}}){coding}"')
        return [int(m.group(1)) for tag in if_match.split(",") if (m := pattern.fullmatch(tag.strip()))]


@dataclass(frozen=True)
class Versionless:
    """What a write without a version made: the version it wrote, and whether it waits for review."""

    version: int
    needs_review: bool
    review_fields: tuple[str, ...] = ()


# REVIEW_WINDOW (24 hours) and GEOMETRY come from layers.editing: one window, one rule for every layer.


# --- plan zones (layers.plans) -----------------------------------------------------------------

def _plan_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"[0-9]{1,9}", str(value)):
        raise InvalidInput(f"properties.plan_id: потрібен номер плану, а не {value!r}",
                           f"properties.plan_id: a plan's number is needed, not {value!r}")
    return int(value)


def _create_zone(conn: sa.Connection, editor: plans.Editor, properties: dict, geometry: dict, *,
                 repair: bool = False) -> int:
    properties = dict(properties)
    if properties.get("plan_id") is None:
        raise InvalidInput("properties.plan_id: вкажіть план, до якого належить зона",
                           "properties.plan_id: name the plan the zone belongs to")
    plan_id = _plan_id(properties.pop("plan_id"))
    return plans.create_zone(conn, editor, plan_id, properties, geometry, repair=repair)["id"]


def _update_zone(conn: sa.Connection, editor: plans.Editor, zone_id: int, expected_version: int, *,
                 properties: dict | None, geometry: dict | None, replace: bool, repair: bool = False,
                 reason: str | None = None) -> None:
    properties = dict(properties or {})
    if "plan_id" in properties:
        given = properties.pop("plan_id")
        current = conn.execute(sa.text("SELECT plan_id FROM plan_zone WHERE id = :id"), {"id": zone_id}).scalar()
        if current is not None and (given is None or _plan_id(given) != current):
            raise InvalidInput(f"Зону не переносять до іншого плану (її план — №{current})",
                               f"A zone cannot move to another plan (its plan is No. {current})")
    plans.update_zone(conn, editor, zone_id, expected_version, attributes=properties, geometry=geometry,
                      replace=replace, repair=repair, reason=reason)


def _delete_zone(conn: sa.Connection, editor: plans.Editor, zone_id: int, expected_version: int) -> None:
    plans.delete_zone(conn, editor, zone_id, expected_version)


# --- plan zones: writes that name no version (issue #19) --------------------------------------------

def _lock_current_version(conn: sa.Connection, zone_id: int) -> int:
    """The zone's current version, read under its plan's lock (the one every plan write takes before
    it writes), so no other write of the zone's plan lands between this read and the write that
    follows in the same transaction. NotFound when there is no such zone (or it was deleted)."""
    plan_id = conn.execute(sa.text("SELECT plan_id FROM plan_zone WHERE id = :id"), {"id": zone_id}).scalar()
    if plan_id is not None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": plan_id})
        version = conn.execute(sa.text("SELECT version FROM plan_zone WHERE id = :id"), {"id": zone_id}).scalar()
        if version is not None:
            # For the generic history of layers.history too, should plan zones ever keep theirs there.
            conn.execute(sa.text("SELECT set_config('hromada.versionless', 'on', true)"))
            return version
    raise NotFound(f"Зони {zone_id} немає", f"Zone {zone_id} does not exist")


def _review_fields(conn: sa.Connection, editor: plans.Editor, zone_id: int, version: int,
                   named: Iterable[str] | None, window: dt.timedelta) -> list[str]:
    """The properties of ``named`` (None: a deletion, every property) whose value before ``version``
    was set by another account within ``window`` and which ``version`` changed."""
    rows = conn.execute(sa.text("""
        WITH v AS (SELECT version, operation, user_id, changed_at, attributes, md5(geom) AS geom_md5
                   FROM plan_zone_version WHERE zone_id = :z AND version <= :v),
             since AS (SELECT clock_timestamp() - :w AS t)
        SELECT v.*, v.changed_at >= since.t AS recent FROM v, since
        WHERE v.changed_at >= since.t   -- the window, and the last version before it (what it started from)
           OR v.version >= (SELECT max(v2.version) FROM v v2, since s2 WHERE v2.changed_at < s2.t)
        ORDER BY v.version DESC"""), {"z": zone_id, "v": version, "w": window}).mappings().all()
    if len(rows) < 2 or rows[0]["version"] != version:
        return []
    new, before = rows[0], [{**r, "op": r["operation"]} for r in rows[1:]]

    def value(row, name):
        return row["geom_md5"] if name == GEOMETRY else row["attributes"].get(name)

    names = [*plans.ATTRIBUTES, GEOMETRY] if named is None else list(named)
    return fresh_values_replaced(before, names, value, None if named is None else new, editor.user_id)


def _mark_versionless(conn: sa.Connection, editor: plans.Editor, zone_id: int, version: int,
                      named: Iterable[str] | None, window: dt.timedelta, reason: str | None) -> Versionless:
    """Mark the version just written as versionless, flagged when it needs review. Without a reason of
    its own (the OGC API has none to give) its "why" says so, so the zone's history page shows it too."""
    fields = _review_fields(conn, editor, zone_id, version, named, window)
    if not (reason or "").strip():
        reason = ("надіслано без версії (If-Match), злито з поточною / sent without a version (If-Match), "
                  "merged into the current one") if named is not None else (
                  "вилучено без версії (If-Match) / deleted without a version (If-Match)")
        if fields:
            reason += f"; перевірте: {', '.join(fields)} / to review: {', '.join(fields)}"
    version_table = plans.plan_zone_version
    marked = conn.execute(sa.update(version_table).where(
        version_table.c.zone_id == zone_id, version_table.c.version == version,
    ).values(versionless=True, needs_review=bool(fields), review_fields=fields or None, reason=reason.strip()))
    if marked.rowcount != 1:  # the history trigger wrote no version: never leave a write unrecorded
        raise RuntimeError(f"plan_zone_version has no version {version} of zone {zone_id}")
    return Versionless(version, bool(fields), tuple(fields))


def update_zone_versionless(conn: sa.Connection, editor: plans.Editor, zone_id: int, *, properties: dict | None,
                            geometry: dict | None, repair: bool = False, reason: str | None = None,
                            window: dt.timedelta = REVIEW_WINDOW) -> Versionless:
    """Merge ``properties`` (only those named; None empties one) and ``geometry`` (if given) into the
    zone's current version, as a new version marked versionless (and flagged for review, see the
    module's docstring). The rules on save apply as for any write; NotFound for a zone that is not
    there (never created by a merge)."""
    properties = dict(properties or {})
    expected = _lock_current_version(conn, zone_id)
    _update_zone(conn, editor, zone_id, expected, properties=properties, geometry=geometry, replace=False,
                 repair=repair, reason=reason)
    named = [*(k for k in properties if k in plans.ATTRIBUTES), *((GEOMETRY,) if geometry is not None else ())]
    return _mark_versionless(conn, editor, zone_id, expected + 1, named, window, reason)


def delete_zone_versionless(conn: sa.Connection, editor: plans.Editor, zone_id: int, *, reason: str | None = None,
                            window: dt.timedelta = REVIEW_WINDOW) -> Versionless:
    """Delete the zone as it is now; the deletion is a version marked versionless (revertible with
    layers.plans.revert to any earlier version), flagged when it removes a colleague's fresh value."""
    expected = _lock_current_version(conn, zone_id)
    plans.delete_zone(conn, editor, zone_id, expected, reason=reason)
    return _mark_versionless(conn, editor, zone_id, expected + 1, None, window, reason)


def plan_zone_versionless_edits(conn: sa.Connection, hromada_id: int, *, only_flagged: bool = True,
                                zone_id: int | None = None, limit: int = 100) -> list[dict]:
    """The versionless writes of the hromada's plan zones, newest first: flagged ones only
    (``only_flagged``) or all; each with its zone, plan, version, operation, when, who, the
    properties to review and the zone's current version (None once deleted)."""
    rows = conn.execute(sa.text("""
        SELECT v.zone_id, v.plan_id, p.title AS plan_title, v.version, v.operation, v.changed_at, v.user_id,
               COALESCE(NULLIF(btrim(a.full_name), ''), a.email) AS by, v.reason, v.needs_review,
               v.review_fields, z.version AS current_version
        FROM plan_zone_version v JOIN plan p ON p.id = v.plan_id
             LEFT JOIN app_user a ON a.id = v.user_id LEFT JOIN plan_zone z ON z.id = v.zone_id
        WHERE v.versionless AND p.hromada_id = :h AND (v.needs_review OR NOT :flagged)
          AND (CAST(:zone AS integer) IS NULL OR v.zone_id = :zone)
        ORDER BY v.changed_at DESC, v.id DESC LIMIT :limit"""),
        {"h": hromada_id, "flagged": only_flagged, "zone": zone_id, "limit": limit}).mappings()
    return [{**r, "changed_at": r["changed_at"].isoformat(), "review_fields": list(r["review_fields"] or [])}
            for r in rows]


PLAN_ZONES = Writable(layer=plans.PLAN_ZONES, version_column="version",
                      server_fields=frozenset({"version", "updated_at", "published"}),
                      create=_create_zone, update=_update_zone, delete=_delete_zone,
                      update_versionless=update_zone_versionless, delete_versionless=delete_zone_versionless)


# --- every layer whose declaration allows editing (layers.editing) -----------------------------------

def _generic(layer: Layer) -> Writable:
    """A Writable backed by layers.editing, with the roles, rules and versions of the declaration."""

    def create(conn: sa.Connection, editor: plans.Editor, properties: dict, geometry: dict, *,
               repair: bool = False, reason: str | None = None) -> int:
        properties = dict(properties or {})
        hromada_id = properties.pop("hromada_id", None)  # the body may name it; else the geometry's hromada
        return editing.create_feature(conn, layer, editor, properties, geometry, hromada_id=hromada_id,
                                      reason=reason, repair=repair).id

    def update(conn: sa.Connection, editor: plans.Editor, feature_id: int, expected_version: int, *,
               properties: dict | None, geometry: dict | None, replace: bool, repair: bool = False,
               reason: str | None = None) -> None:
        editing.update_feature(conn, layer, editor, feature_id, expected_version=int(expected_version),
                               properties=properties, geometry=geometry, replace=replace, repair=repair,
                               reason=reason)

    def delete(conn: sa.Connection, editor: plans.Editor, feature_id: int, expected_version: int, *,
               reason: str | None = None) -> None:
        editing.delete_feature(conn, layer, editor, feature_id, expected_version=int(expected_version), reason=reason)

    def update_versionless(conn: sa.Connection, editor: plans.Editor, feature_id: int, *, properties: dict | None,
                           geometry: dict | None, repair: bool = False, reason: str | None = None,
                           window: dt.timedelta = REVIEW_WINDOW) -> Versionless:
        done = editing.update_feature(conn, layer, editor, feature_id, expected_version=None,
                                      properties=dict(properties or {}), geometry=geometry, repair=repair,
                                      reason=reason, window=window)
        return Versionless(done.version, done.needs_review, done.review_fields)

    def delete_versionless(conn: sa.Connection, editor: plans.Editor, feature_id: int, *,
                           reason: str | None = None, window: dt.timedelta = REVIEW_WINDOW) -> Versionless:
        done = editing.delete_feature_versioned(conn, layer, editor, feature_id, expected_version=None,
                                                reason=reason, window=window)
        return Versionless(done.version, done.needs_review, done.review_fields)

    # hromada_id is the server's on every write but a creation, which may name it; a "version" sent back
    # (clients echo what they read) names the version the write is based on, never a field.
    echoed = frozenset() if any(f.name == "version" for f in layer.fields) else frozenset({"version"})
    return Writable(layer=layer, version_column=None,
                    server_fields=(editing.server_fields(layer) - {"hromada_id"}) | echoed,
                    create=create, update=update, delete=delete,
                    update_versionless=update_versionless, delete_versionless=delete_versionless)


def _registry() -> dict[str, Writable]:
    found = {layer.name: _generic(layer) for layer in editing.editable_layers()}
    found[PLAN_ZONES.layer.name] = PLAN_ZONES
    return found


WRITABLE: dict[str, Writable] = _registry()


def writable(layer_name: str) -> Writable | None:
    """How to write ``layer_name``'s features; None for a layer that is not written feature by feature."""
    return WRITABLE.get(layer_name)


def roles_to(layer_name: str, action: str) -> frozenset[str]:
    """The roles that may ``action`` ("create", "update", "delete") a feature of the collection, each
    held in the feature's hromada: its declaration's (plan zones: the plan's planners and admins)."""
    spec = writable(layer_name)
    if spec is None:
        return frozenset()
    if spec is PLAN_ZONES:
        return plans.EDITORS
    return spec.layer.permissions.roles_to(action)


def may(layer_name: str, roles, action: str) -> bool:
    """Whether ``roles`` (held in the feature's hromada) may ``action`` a feature of the collection."""
    return bool(set(roles) & roles_to(layer_name, action))


def versionless_edits(conn: sa.Connection, layer_name: str, hromada_id: int, *, only_flagged: bool = True,
                      feature_id: int | None = None, limit: int = 100) -> list[dict]:
    """The versionless writes of the hromada's features of the collection, newest first (plan zones:
    :func:`plan_zone_versionless_edits`, with ``feature_id`` for ``zone_id``)."""
    spec = writable(layer_name)
    if spec is None:
        raise NotFound(f"Колекцію {layer_name!r} не редагують", f"Collection {layer_name!r} is not edited")
    if spec is PLAN_ZONES:
        edits = plan_zone_versionless_edits(conn, hromada_id, only_flagged=only_flagged, zone_id=feature_id,
                                            limit=limit)
        return [{**e, "feature_id": e["zone_id"]} for e in edits]
    return editing.versionless_edits(conn, spec.layer, hromada_id, only_flagged=only_flagged,
                                      feature_id=feature_id, limit=limit)
