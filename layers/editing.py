"""Editing features one by one, derived from the declarations (issue #19): one mechanism for every
layer whose ``Permissions.editing`` says who may create, change and delete its features — the
browser editor, OGC API – Features Part 4 and WFS-T all come here (through ``layers.writable`` for
the last two), so the rules are the same whichever way a feature is edited:

- **who**: the editor holds one of the action's roles (``Permissions.roles_to``) in the feature's
  hromada — nobody edits another hromada's data; a new feature's hromada is the one given, else the
  one its geometry lies in;
- **values**: each property converted and checked as importers do (``layers.values``: numbers with
  a decimal comma, dates, choices by code or label, ranges, cadastral numbers, KATOTTG …), unknown
  ones refused, required ones kept; the fields the service keeps (the table's frame — id, hromada,
  raw, source, imported_at, is_demo —, computed fields, ``Editing.server_fields``) are ignored when
  sent back; a unit named must be one of the hromada's. A refusal is one ``InvalidInput`` naming
  every field at fault (``details.fields``: name → ``{"uk", "en"}``), nothing written;
- **geometry**: GeoJSON (CRS84) of the layer's geometry type (a single part is taken for a Multi*
  layer), valid, within the feature's hromada;
- **versions**: a feature's version is its current version number in ``feature_version``, kept by
  the history triggers (``layers.history``; a feature older than its history is version 1 until
  it first changes). A write naming ``expected_version`` checks it under the feature's row lock, so
  of two writers with the same version exactly one wins; the other gets :class:`EditConflict`
  (412) carrying the current feature. ``expected_version=None`` is a *versionless* write
  (QGIS sends its PATCH and DELETE so): merged property by property into the row current under the
  lock, recorded as versionless, and flagged ``needs_review`` when it replaces a value another
  account set within ``REVIEW_WINDOW`` — the rules of plan zones (``layers.writable``), one code;
- **history**: every write names its editor and reason (``history.acting``).

Framework-free, plain values in and out; SQLAlchemy Core on the generated tables.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gis.errors import Forbidden, InvalidInput, NotFound, PreconditionFailed, Unprocessable
from gis.jsonvalues import jsonable
from gis.models import SRID, hromada
from layers import history
from layers.base import EDIT_ACTIONS, Field, Layer, label
from layers.plans import Editor, VersionConflict  # one Editor for every path: user id, grants, name
from layers.tables import FRAME_COLUMNS
from layers.values import BadValue, convert

# A versionless write that replaces a value another account set less than this long ago is flagged for
# review: long enough to cover a working day between loading a layer in QGIS and saving the edits.
REVIEW_WINDOW = dt.timedelta(hours=24)
GEOMETRY = "geometry"  # the name review_fields and per-field errors give the geometry
KYIV = ZoneInfo("Europe/Kyiv")
MAX_ID = 2**31 - 1
POLYGON_TOLERANCE_M2 = 1.0  # a polygon may stick out of its hromada by slivers this small

_TYPE_NEEDS = {
    "text": ("текст", "text"), "integer": ("ціле число", "a whole number"), "number": ("число", "a number"),
    "money": ("сума в гривнях", "an amount in hryvnias"), "boolean": ("так або ні", "yes or no"),
    "date": ("дата (РРРР-ММ-ДД)", "a date (YYYY-MM-DD)"), "datetime": ("дата й час", "a date and time"),
    "json": ("JSON", "JSON"), "unit": ("номер підрозділу", "a unit's number"),
    "hromada": ("номер громади", "a hromada's number"), "category": ("номер категорії", "a category's number"),
}


@dataclass(frozen=True)
class EditedFeature:
    """A feature as an editor sees it: every field (staff-only ones too), its version, GeoJSON in CRS84.
    ``needs_review``/``review_fields``: a versionless write that replaced a colleague's fresh values."""

    id: int
    version: int
    hromada_id: int | None
    properties: dict
    geometry: dict | None
    needs_review: bool = False
    review_fields: tuple[str, ...] = ()


class EditConflict(VersionConflict):
    """A write based on an old version (412): ``current`` is the feature as it is now (None once
    deleted), so the client can merge and retry. A ``plans.VersionConflict`` too, so code written for
    plan zones' conflicts (the OGC API, WFS-T) catches it alike."""

    def __init__(self, layer: Layer, feature_id: int, current: EditedFeature | None):
        if current is None:
            PreconditionFailed.__init__(self, f"Об'єкта {feature_id} у шарі «{label(layer.title, 'uk')}» вже немає",
                             f"Feature {feature_id} of layer “{label(layer.title, 'en')}” no longer exists")
        else:
            PreconditionFailed.__init__(
                self, f"Об'єкт {feature_id} вже змінено: поточна версія {current.version}. "
                      "Перегляньте зміни й повторіть",
                f"Feature {feature_id} has changed: the current version is {current.version}. Review and retry")
        self.current = current


# --- what the declarations allow -----------------------------------------------------------------

def editable_layers() -> list[Layer]:
    """The layers whose features are edited one by one (``Permissions.editing``), in registry order."""
    from layers.registry import all_layers

    return [layer for layer in all_layers() if is_editable(layer)]


def is_editable(layer: Layer) -> bool:
    return layer.permissions.editing is not None


def can_edit(layer: Layer, roles, action: str) -> bool:
    """Whether ``roles`` (held in the feature's hromada) may ``action`` ("create", "update", "delete")
    a feature of ``layer``; False for a layer not edited this way."""
    if action not in EDIT_ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {EDIT_ACTIONS}")
    return is_editable(layer) and layer.permissions.may(action, roles)


def server_fields(layer: Layer) -> frozenset[str]:
    """The names a client may send back but never sets: the table's frame, computed fields and the
    declaration's ``Editing.server_fields``."""
    spec = layer.permissions.editing
    return frozenset({*FRAME_COLUMNS, layer.id_column, layer.geometry_column,
                      *(f.name for f in layer.fields if f.computed is not None),
                      *(spec.server_fields if spec else ())})


def editable_fields(layer: Layer) -> tuple[Field, ...]:
    """The fields an editor sets."""
    kept = server_fields(layer)
    return tuple(f for f in layer.input_fields if f.name not in kept)


def _require_editable(layer: Layer) -> None:
    if not is_editable(layer):
        raise Forbidden(f"Шар «{label(layer.title, 'uk')}» не редагують по одному об'єкту",
                        f"Layer “{label(layer.title, 'en')}” is not edited feature by feature")


def _require_role(layer: Layer, editor: Editor, hromada_id: int | None, action: str) -> None:
    if not can_edit(layer, editor.roles_in(hromada_id), action):
        what = {"create": ("додавати", "add"), "update": ("змінювати", "change"),
                "delete": ("вилучати", "delete")}[action]
        roles = ", ".join(sorted(layer.permissions.roles_to(action)))
        raise Forbidden(f"{what[0].capitalize()} об'єкти шару «{label(layer.title, 'uk')}» у цій громаді можуть лише "
                        f"її {roles}",
                        f"Only this hromada's {roles} may {what[1]} features of “{label(layer.title, 'en')}” here")


# --- reading ---------------------------------------------------------------------------------------

def _table(layer: Layer) -> sa.Table:
    from layers.query import table_of

    return table_of(layer)


def _feature_id(layer: Layer, feature_id) -> int:
    if isinstance(feature_id, bool) or not isinstance(feature_id, int) or not 0 < feature_id <= MAX_ID:
        raise NotFound(f"У шарі «{label(layer.title, 'uk')}» немає об'єкта {feature_id!r}",
                       f"Layer “{label(layer.title, 'en')}” has no feature {feature_id!r}")
    return feature_id


def _not_found(layer: Layer, feature_id: int) -> NotFound:
    return NotFound(f"У шарі «{label(layer.title, 'uk')}» немає об'єкта {feature_id}",
                    f"Layer “{label(layer.title, 'en')}” has no feature {feature_id}")


def version_expression(layer: Layer, id_column) -> sa.ColumnElement:
    """The current version of the feature whose id is ``id_column``, as SQL (for reads in bulk)."""
    from gis.models import feature_version as fv

    latest = (sa.select(sa.func.max(fv.c.version)).where(fv.c.layer == layer.name, fv.c.feature_id == id_column)
              .scalar_subquery())
    return sa.func.coalesce(latest, 1)


def current_version(conn: sa.Connection, layer: Layer, feature_id: int) -> int:
    """The feature's current version number (1 for a feature unchanged since its history began)."""
    return conn.execute(sa.text("SELECT COALESCE(max(version), 1) FROM feature_version "
                                "WHERE layer = :l AND feature_id = :f"),
                        {"l": layer.name, "f": feature_id}).scalar_one()


def _select(layer: Layer) -> sa.Select:
    table = _table(layer)
    return sa.select(
        table.c[layer.id_column].label("_id"),
        (table.c[layer.hromada_column] if layer.hromada_column else sa.null()).label("_hromada_id"),
        sa.func.ST_AsGeoJSON(table.c[layer.geometry_column], 15).label("_geometry"),
        version_expression(layer, table.c[layer.id_column]).label("_version"),
        *[table.c[f.column_name].label(f.name) for f in layer.fields])


def _as_feature(layer: Layer, row, **review) -> EditedFeature:
    props = {}
    for f in layer.fields:
        value = row[f.name]
        props[f.name] = value if f.type == "json" else jsonable(value)
    return EditedFeature(id=row["_id"], version=row["_version"], hromada_id=row["_hromada_id"], properties=props,
                         geometry=json.loads(row["_geometry"]) if row["_geometry"] else None, **review)


def get_feature(conn: sa.Connection, layer: Layer, feature_id: int) -> EditedFeature:
    """The feature with every field and its version; NotFound when there is none."""
    feature_id = _feature_id(layer, feature_id)
    table = _table(layer)
    row = conn.execute(_select(layer).where(table.c[layer.id_column] == feature_id)).mappings().first()
    if row is None:
        raise _not_found(layer, feature_id)
    return _as_feature(layer, row)


# --- checking what an editor gives --------------------------------------------------------------------

def _field_error(f: Field | None, name: str, uk: str, en: str) -> tuple[str, dict]:
    title_uk = label(f.label, "uk") if f else name
    return name, {"uk": f"«{title_uk}» ({name}): {uk}", "en": f"{name}: {en}"}


def _invalid(errors: dict[str, dict], kind=InvalidInput) -> InvalidInput:
    listed_uk = "; ".join(e["uk"] for e in errors.values())
    listed_en = "; ".join(e["en"] for e in errors.values())
    return kind(f"Неправильні значення — {listed_uk}", f"Invalid values — {listed_en}", fields=errors)


def _convert(f: Field, value):
    """One property as its column takes it; BadValue (uk / en) when it cannot be."""
    if isinstance(value, (dict, list)) and f.type != "json":
        need_uk, need_en = _TYPE_NEEDS.get(f.type, (f.type, f.type))
        raise BadValue(f"потрібно: {need_uk} / {need_en} is needed")
    if isinstance(value, bool) and f.type in ("integer", "number", "money", "unit", "hromada", "category"):
        raise BadValue(f"{value!r} — не число / {value!r} is not a number")
    typed = convert(f, value)
    if f.type == "json" and typed is not None:
        return json.loads(typed)
    if f.type == "datetime" and typed is not None and typed.tzinfo is None:
        return typed.replace(tzinfo=KYIV)  # the service's times are Kyiv time, as importers take them
    return typed


def _bad_value_text(f: Field, value, exc: BadValue) -> tuple[str, str]:
    text = str(exc)
    if " / " in text:  # the field's own rule (or a range): both languages
        uk, en = text.split(" / ", 1)
        return uk, en
    need_uk, need_en = _TYPE_NEEDS.get(f.type, (f.type, f.type))
    if f.choices:
        need_uk = need_en = ", ".join(f.choices)
        return f"{value!r} — не з переліку; можна: {need_uk}", f"{value!r} is not one of {need_en}"
    return f"{value!r} — потрібно: {need_uk}", f"{value!r} — {need_en} is needed ({text})"


def check_properties(conn: sa.Connection, layer: Layer, given: dict, *, hromada_id: int | None,
                     full: bool, current: dict | None = None) -> dict[str, object]:
    """The properties an editor gives, as column → value; ``full``: every editable field (missing
    ones empty), else only those given. Required fields may not end up empty (``current``: the row's
    values by column, for a merge). Server-kept names are ignored. InvalidInput naming every field
    at fault."""
    if not isinstance(given, dict):
        raise InvalidInput("properties має бути об'єктом", "properties must be an object")
    kept = server_fields(layer)
    fields = {f.name: f for f in editable_fields(layer)}
    errors: dict[str, dict] = {}
    for name in given:
        if name not in fields and name not in kept:
            key, msg = _field_error(None, name, "такого поля немає", "there is no such field")
            errors[key] = msg
    values: dict[str, object] = {}
    for name, f in fields.items():
        if name not in given and not full:
            continue
        value = given.get(name)
        try:
            typed = _convert(f, value)
        except BadValue as exc:
            key, msg = _field_error(f, name, *_bad_value_text(f, value, exc))
            errors[key] = msg
            continue
        values[f.column_name] = typed
    for name, f in fields.items():
        if not f.required or name in errors:
            continue
        after = values[f.column_name] if f.column_name in values else (current or {}).get(f.column_name)
        if after is None and (f.column_name in values or current is None):
            key, msg = _field_error(f, name, "обов'язкове поле", "is required")
            errors[key] = msg
    if not errors:
        errors.update(_check_units(conn, layer, fields, values, hromada_id))
    if errors:
        raise _invalid(errors)
    return values


def _check_units(conn: sa.Connection, layer: Layer, fields: dict[str, Field], values: dict,
                 hromada_id: int | None) -> dict[str, dict]:
    """A unit named must be one of the feature's hromada."""
    errors = {}
    for name, f in fields.items():
        unit_id = values.get(f.column_name)
        if f.type != "unit" or unit_id is None:
            continue
        found = conn.execute(sa.text("SELECT hromada_id FROM unit WHERE id = :u"), {"u": unit_id}).first()
        if found is None or found.hromada_id != hromada_id:
            key, msg = _field_error(f, name, f"підрозділу {unit_id} у цій громаді немає",
                                    f"this hromada has no unit {unit_id}")
            errors[key] = msg
    return errors


def check_geometry(conn: sa.Connection, layer: Layer, geometry, *, repair: bool = False) -> bytes:
    """A GeoJSON geometry (CRS84) as the layer's type in EPSG:4326 (EWKB): InvalidInput naming
    ``geometry`` for anything else; an invalid polygon is Unprocessable unless ``repair``."""
    def bad(uk: str, en: str, kind=InvalidInput):
        key, msg = _field_error(None, GEOMETRY, uk, en)
        return _invalid({key: msg}, kind)

    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise bad("потрібна геометрія GeoJSON", "a GeoJSON geometry is needed")
    want = layer.geometry
    single = want.removeprefix("Multi")
    if geometry["type"] not in (want, single):
        raise bad(f"потрібна геометрія {want}, а не {geometry['type']}",
                  f"a {want} is needed, not a {geometry['type']}")
    try:
        with conn.begin_nested():
            row = conn.execute(sa.text(f"""
                WITH g AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), {SRID}) AS g)
                SELECT ST_IsEmpty(g) AS empty, ST_IsValid(g) AS valid, ST_IsValidReason(g) AS why,
                       ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90 AS in_range,
                       ST_AsEWKB(g) AS given FROM g"""), {"g": json.dumps(geometry)}).mappings().one()
    except sa.exc.DBAPIError:
        raise bad("це не правильний GeoJSON", "it is not valid GeoJSON") from None
    if row["empty"]:
        raise bad("геометрія порожня", "the geometry is empty")
    if not row["in_range"]:
        raise bad("координати поза межами довготи й широти (CRS84: довгота, широта)",
                  "coordinates out of longitude/latitude range (CRS84: longitude, latitude)")
    geom = bytes(row["given"])
    if not row["valid"]:
        if not repair or "Polygon" not in want:
            raise bad(f"геометрія неправильна ({row['why']})", f"the geometry is invalid ({row['why']})", Unprocessable)
        geom = bytes(conn.execute(sa.text(
            "SELECT ST_AsEWKB(ST_CollectionExtract(ST_MakeValid(ST_GeomFromEWKB(:g)), 3))"), {"g": geom}).scalar_one())
    if want.startswith("Multi"):
        geom = bytes(conn.execute(sa.text("SELECT ST_AsEWKB(ST_Multi(ST_GeomFromEWKB(:g)))"), {"g": geom}).scalar_one())
    return geom


def _outside(conn: sa.Connection, geom: bytes, hromada_id: int) -> bool | None:
    """Whether the geometry lies outside the hromada (None: no such hromada). Polygons may stick out by
    slivers of POLYGON_TOLERANCE_M2."""
    from gis.crs import metric_srid_sql

    row = conn.execute(sa.text(f"""
        WITH g AS (SELECT ST_GeomFromEWKB(:g) AS g)
        SELECT ST_Covers(h.boundary, g.g) AS inside,
               CASE WHEN GeometryType(g.g) IN ('POLYGON', 'MULTIPOLYGON') AND NOT ST_Covers(h.boundary, g.g)
                    THEN ST_Area(ST_Transform(ST_Difference(g.g, h.boundary), {metric_srid_sql('h.boundary')}))
               END AS outside_m2
        FROM hromada h, g WHERE h.id = :h"""), {"g": geom, "h": hromada_id}).first()
    if row is None:
        return None
    return not (row.inside or (row.outside_m2 is not None and row.outside_m2 <= POLYGON_TOLERANCE_M2))


def _outside_error(kind=Unprocessable) -> InvalidInput:
    key, msg = _field_error(None, GEOMETRY, "лежить поза межами громади об'єкта",
                            "lies outside the feature's hromada")
    return _invalid({key: msg}, kind)


def hromada_of(conn: sa.Connection, geom: bytes) -> int:
    """The hromada the geometry lies in; Unprocessable (naming ``geometry``) when none (or it crosses
    a boundary)."""
    found = conn.execute(sa.select(hromada.c.id).where(
        sa.func.ST_Covers(hromada.c.boundary, sa.func.ST_GeomFromEWKB(sa.literal(geom, sa.LargeBinary))))
        .order_by(hromada.c.id).limit(1)).scalar()
    if found is None:
        found = conn.execute(sa.text("""
            SELECT h.id FROM hromada h WHERE ST_Intersects(h.boundary, ST_PointOnSurface(ST_GeomFromEWKB(:g)))
            ORDER BY h.id LIMIT 1"""), {"g": geom}).scalar()
        if found is None or _outside(conn, geom, found):
            key, msg = _field_error(None, GEOMETRY, "не лежить у жодній громаді (повністю)",
                                    "does not lie (wholly) in any hromada")
            raise _invalid({key: msg}, Unprocessable)
    return found


def _hromada_id(value) -> int:
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,9}", str(value)):
        key, msg = _field_error(None, "hromada_id", f"{value!r} — потрібен номер громади",
                                f"{value!r} — a hromada's number is needed")
        raise _invalid({key: msg})
    return int(value)


# --- writing ---------------------------------------------------------------------------------------------

def _geom_value(geom: bytes):
    return sa.func.ST_GeomFromEWKB(sa.literal(geom, sa.LargeBinary))


def _write(conn: sa.Connection, layer: Layer, statement) -> sa.CursorResult:
    """Run a write; a value the database refuses (a constraint, a unit removed meanwhile) → InvalidInput."""
    try:
        with conn.begin_nested():
            return conn.execute(statement)
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        diag = getattr(exc.orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None) or ""
        column = getattr(diag, "column_name", None) or ""
        named = next((f.name for f in layer.fields if f.column_name and (
            f.column_name == column or f.column_name in constraint)), None)
        key, msg = _field_error(layer.field(named) if named else None, named or "properties",
                                f"база даних не приймає значення ({constraint or type(exc.orig).__name__})",
                                f"the database refuses the value ({constraint or type(exc.orig).__name__})")
        raise _invalid({key: msg}) from None


def _lock(conn: sa.Connection, layer: Layer, feature_id: int) -> dict:
    """The feature's row (by column), locked for the rest of the transaction; NotFound when none."""
    # The lock history.revert takes too: one writer of a feature at a time, also while it is deleted.
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:l), :f)"), {"l": layer.name, "f": feature_id})
    table = _table(layer)
    row = conn.execute(sa.select(table).where(table.c[layer.id_column] == feature_id)
                       .with_for_update()).mappings().first()
    if row is None:
        raise _not_found(layer, feature_id)
    return dict(row)


def _acting(conn: sa.Connection, editor: Editor, reason: str | None, *, versionless: bool = False) -> history.acting:
    return history.acting(conn, editor.user_id, editor.name, reason, versionless=versionless)


def create_feature(conn: sa.Connection, layer: Layer, editor: Editor, properties: dict, geometry: dict, *,
                   hromada_id: int | None = None, reason: str | None = None, repair: bool = False) -> EditedFeature:
    """A new feature of ``layer`` in ``hromada_id`` (else the hromada its geometry lies in); the editor
    holds a "create" role there. Every editable field may be given; required ones must."""
    _require_editable(layer)
    geom = check_geometry(conn, layer, geometry, repair=repair)
    if hromada_id is None:
        hromada_id = hromada_of(conn, geom)
    else:
        hromada_id = _hromada_id(hromada_id)
        outside = _outside(conn, geom, hromada_id)
        if outside is None:
            key, msg = _field_error(None, "hromada_id", f"громади {hromada_id} немає",
                                    f"there is no hromada {hromada_id}")
            raise _invalid({key: msg}, NotFound)
        if outside:
            raise _outside_error()
    _require_role(layer, editor, hromada_id, "create")
    values = check_properties(conn, layer, properties or {}, hromada_id=hromada_id, full=True)
    table = _table(layer)
    if layer.hromada_column:
        values[layer.hromada_column] = hromada_id
    values[layer.geometry_column] = _geom_value(geom)
    with _acting(conn, editor, reason):
        new_id = _write(conn, layer, table.insert().values(**values).returning(table.c[layer.id_column])).scalar_one()
    return get_feature(conn, layer, new_id)


def update_feature(conn: sa.Connection, layer: Layer, editor: Editor, feature_id: int, *,
                   expected_version: int | None, properties: dict | None = None, geometry: dict | None = None,
                   replace: bool = False, reason: str | None = None, repair: bool = False,
                   window: dt.timedelta = REVIEW_WINDOW) -> EditedFeature:
    """Change a feature: ``properties`` (only those given, None empties one; ``replace``: the whole set,
    missing ones empty) and/or ``geometry`` (within its hromada). ``expected_version`` must be the
    current one (EditConflict with the current feature otherwise); None merges into the current row
    as a versionless write, flagged for review when it replaces a colleague's fresh value."""
    _require_editable(layer)
    feature_id = _feature_id(layer, feature_id)
    row = _lock(conn, layer, feature_id)
    hromada_id = row.get(layer.hromada_column) if layer.hromada_column else None
    _require_role(layer, editor, hromada_id, "update")
    version = current_version(conn, layer, feature_id)
    if expected_version is not None and (isinstance(expected_version, bool) or expected_version != version):
        raise EditConflict(layer, feature_id, get_feature(conn, layer, feature_id))
    if properties is None and geometry is None and not replace:
        raise InvalidInput("Нічого не змінено: немає ні властивостей, ні геометрії",
                           "Nothing to change: neither properties nor a geometry")
    values = check_properties(conn, layer, properties or {}, hromada_id=hromada_id, full=replace, current=row)
    if geometry is not None:
        geom = check_geometry(conn, layer, geometry, repair=repair)
        if hromada_id is not None and _outside(conn, geom, hromada_id):
            raise _outside_error()
        values[layer.geometry_column] = _geom_value(geom)
    versionless = expected_version is None
    if versionless and not (reason or "").strip():
        reason = ("надіслано без версії, злито з поточною / sent without a version, merged into the current one")
    table = _table(layer)
    if values:
        with _acting(conn, editor, reason, versionless=versionless):
            _write(conn, layer, table.update().where(table.c[layer.id_column] == feature_id).values(**values))
    feature = get_feature(conn, layer, feature_id)
    if versionless and feature.version > version:
        fields = review_fields(conn, layer, feature_id, feature.version, window=window,
                               named=[*(f.name for f in editable_fields(layer) if f.column_name in values
                                        and f.column_name != layer.geometry_column),
                                      *((GEOMETRY,) if geometry is not None else ())])
        return dataclasses.replace(feature, needs_review=bool(fields), review_fields=tuple(fields))
    return feature


def delete_feature(conn: sa.Connection, layer: Layer, editor: Editor, feature_id: int, *,
                   expected_version: int | None, reason: str | None = None) -> None:
    """Delete a feature that still has ``expected_version`` (EditConflict otherwise); None deletes it as
    it is now, a versionless deletion (a version of its own in the history, revertible)."""
    delete_feature_versioned(conn, layer, editor, feature_id, expected_version=expected_version, reason=reason)


@dataclass(frozen=True)
class Deleted:
    version: int  # the deletion's version
    needs_review: bool = False
    review_fields: tuple[str, ...] = ()


def delete_feature_versioned(conn: sa.Connection, layer: Layer, editor: Editor, feature_id: int, *,
                             expected_version: int | None, reason: str | None = None,
                             window: dt.timedelta = REVIEW_WINDOW) -> Deleted:
    """:func:`delete_feature`, telling which version the deletion is and (versionless) whether it
    removed a colleague's fresh values."""
    _require_editable(layer)
    feature_id = _feature_id(layer, feature_id)
    row = _lock(conn, layer, feature_id)
    _require_role(layer, editor, row.get(layer.hromada_column) if layer.hromada_column else None, "delete")
    version = current_version(conn, layer, feature_id)
    if expected_version is not None and (isinstance(expected_version, bool) or expected_version != version):
        raise EditConflict(layer, feature_id, get_feature(conn, layer, feature_id))
    versionless = expected_version is None
    if versionless and not (reason or "").strip():
        reason = "вилучено без версії / deleted without a version"
    table = _table(layer)
    with _acting(conn, editor, reason, versionless=versionless):
        _write(conn, layer, table.delete().where(table.c[layer.id_column] == feature_id))
    deleted = current_version(conn, layer, feature_id)
    if not versionless:
        return Deleted(deleted)
    fields = review_fields(conn, layer, feature_id, deleted, named=None, window=window)
    return Deleted(deleted, bool(fields), tuple(fields))


# --- versionless writes: whose fresh values they replaced (plan zones' rules, one code) --------------

def fresh_values_replaced(before: list[dict], names: Iterable[str], value: Callable[[dict, str], object],
                          new: dict | None, user_id: int | None) -> list[str]:
    """Of ``names``, those whose value the write replaced that another account had set recently.

    ``before``: the versions before the write, newest first (each: ``op`` — "create"/"insert",
    "update" or "delete" —, ``user_id``, ``recent``: set within the review window), as far back as
    the last one before the window; ``new``: the version the write made (None: a deletion, which
    replaces every value); ``value(version, name)``. "Set by" is the version that gave the property
    its current value (back through updates that left it unchanged); a value empty since the feature
    was created is nobody's; the same account's own value is not flagged."""
    if not before:
        return []
    found = []
    for name in names:
        if new is not None and value(new, name) == value(before[0], name):
            continue  # the write left this value as it was: nothing of anybody's is replaced
        s = 0
        while (before[s]["op"] == "update" and s + 1 < len(before)
               and value(before[s + 1], name) == value(before[s], name)):
            s += 1
        setter = before[s]
        if not setter["recent"]:
            continue
        if setter["op"] in ("create", "insert") and value(setter, name) is None:
            continue  # empty since the feature was created: nobody's value
        if setter["user_id"] is not None and setter["user_id"] == user_id:
            continue  # the same account's own value
        found.append(name)
    return found


def review_fields(conn: sa.Connection, layer: Layer, feature_id: int, version: int, *,
                  named: Iterable[str] | None, window: dt.timedelta = REVIEW_WINDOW) -> list[str]:
    """The properties of ``named`` (field names and ``geometry``; None: a deletion, every one) whose
    value before ``version`` another account set within ``window`` before ``version`` was written, and
    which ``version`` changed. Computed from the history alone, so it reads the same at any later time."""
    rows = conn.execute(sa.text("""
        WITH v AS (SELECT version, op, user_id, valid_from, row FROM feature_version
                   WHERE layer = :l AND feature_id = :f AND version <= :v),
             since AS (SELECT (SELECT valid_from FROM v WHERE version = :v) - :w AS t)
        SELECT v.*, v.valid_from >= since.t AS recent FROM v, since
        WHERE v.valid_from >= since.t
           OR v.version >= (SELECT max(v2.version) FROM v v2, since s2 WHERE v2.valid_from < s2.t)
        ORDER BY v.version DESC"""), {"l": layer.name, "f": feature_id, "v": version, "w": window}).mappings().all()
    if len(rows) < 2 or rows[0]["version"] != version:
        return []
    new, before = rows[0], [dict(r) for r in rows[1:]]
    user_id = new["user_id"]
    columns = {f.name: f.column_name for f in editable_fields(layer)}

    def value(row, name):
        return row["row"].get(layer.geometry_column if name == GEOMETRY else columns[name])

    names = [*columns, GEOMETRY] if named is None or new["op"] == "delete" else [n for n in named if n in columns
                                                                                 or n == GEOMETRY]
    return fresh_values_replaced(before, names, value, None if new["op"] == "delete" else dict(new), user_id)


def versionless_edits(conn: sa.Connection, layer: Layer, hromada_id: int, *, only_flagged: bool = True,
                      feature_id: int | None = None, limit: int = 100, window: dt.timedelta = REVIEW_WINDOW,
                      scan: int = 5000) -> list[dict]:
    """The versionless writes of the hromada's features of ``layer``, newest first: those flagged for
    review (``only_flagged``; the newest ``scan`` versionless writes are looked at) or all; each with
    its feature, version, operation, when, who, why, the properties to review and the feature's
    current version (None once deleted)."""
    rows = conn.execute(sa.text("""
        SELECT v.feature_id, v.version, v.op AS operation, v.valid_from AS changed_at, v.user_id,
               COALESCE(NULLIF(btrim(v.user_label), ''), a.email) AS by, v.reason
        FROM feature_version v LEFT JOIN app_user a ON a.id = v.user_id
        WHERE v.layer = :l AND v.versionless AND (v.row ->> :hcol) = CAST(:h AS text)
          AND (CAST(:f AS bigint) IS NULL OR v.feature_id = :f)
        ORDER BY v.valid_from DESC, v.id DESC LIMIT :scan"""),
        {"l": layer.name, "h": hromada_id, "hcol": layer.hromada_column or "hromada_id", "f": feature_id,
         "scan": limit if not only_flagged else scan}).mappings().all()
    table = _table(layer)
    out = []
    for r in rows:
        fields = review_fields(conn, layer, r["feature_id"], r["version"], window=window,
                               named=None if r["operation"] == "delete" else _changed(conn, layer, r))
        if only_flagged and not fields:
            continue
        exists = conn.execute(sa.select(sa.literal(1)).where(table.c[layer.id_column] == r["feature_id"])).first()
        out.append({**r, "changed_at": r["changed_at"].isoformat(), "needs_review": bool(fields),
                    "review_fields": fields,
                    "current_version": current_version(conn, layer, r["feature_id"]) if exists else None})
        if len(out) >= limit:
            break
    return out


def _changed(conn: sa.Connection, layer: Layer, r) -> list[str]:
    """The field names (and ``geometry``) a version changed."""
    changed = conn.execute(sa.text("SELECT changed FROM feature_version WHERE layer = :l AND feature_id = :f "
                                   "AND version = :v"), {"l": layer.name, "f": r["feature_id"], "v": r["version"]}
                           ).scalar() or []
    by_column = {f.column_name: f.name for f in editable_fields(layer)}
    return [GEOMETRY if c == layer.geometry_column else by_column[c] for c in changed
            if c == layer.geometry_column or c in by_column]
