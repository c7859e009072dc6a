"""The vocabulary for declaring a layer once.

A :class:`Layer` names its table, geometry, fields (with labels in Ukrainian and English, choices,
whether they are public), its style and popup, who may view and edit it, and the problem categories
residents can report about it, and whether the database keeps its history. The APIs, the map,
importers and exports all read this one object;
``tests/layers/test_declarations.py`` fails when a declaration is inconsistent.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Callable, Mapping

Labels = Mapping[str, str]  # {"uk": ..., "en": ...}

# "money": an exact amount in hryvnias to the kopeck (numeric(16,2); gis.money reads and writes it).
FIELD_TYPES = {"text", "integer", "number", "money", "boolean", "date", "datetime", "choice", "unit",
               "hromada", "category", "json"}
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
PUBLIC = "public"
# Layer.history: no history, history for the layer's editors, or the public fields' history for anyone.
HISTORY_STAFF = "staff"
HISTORY_PUBLIC = "public"
HISTORY_KINDS = (None, HISTORY_STAFF, HISTORY_PUBLIC)


def label(labels: Labels, lang: str) -> str:
    return labels.get(lang) or labels.get("uk") or next(iter(labels.values()), "")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: Labels
    required: bool = False
    public: bool = True  # False: staff-only, never in public maps, APIs, tiles or exports
    choices: Mapping[str, Labels] | None = None
    column: str | None = None  # the table column, when it differs from the name
    aliases: tuple[str, ...] = ()  # other headings importers accept for this field
    # An SQL expression over the table's other columns: a generated (stored) column that the
    # database keeps up to date on every write; importers and forms never write it.
    computed: str | None = None
    # A rule the typed value must follow beyond its type (a cadastral number's structure): returns
    # why not as {"uk": …, "en": …}, or None when the value is fine. ``layers.values.convert`` and
    # the import pipeline apply it, so a file's rows and a form's values are checked alike.
    check: Callable[[object], Labels | None] | None = None
    # The heading (an i18n key) that pages and forms show the field under, for layers whose
    # fields come in groups (a venue's entrance, toilet, parking …).
    group: str | None = None
    # The range a number must lie in (inclusive; None: open on that side): a lamp's power is never
    # negative, a road's PCI 0–100. ``layers.values.check`` applies it on every path, like ``check``.
    minimum: float | None = None
    maximum: float | None = None

    @property
    def column_name(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Style:
    """A fixed Leaflet path style."""

    color: str = "#1c7ed6"
    fill_color: str | None = None
    weight: float = 2
    fill_opacity: float = 0.15
    dash_array: str | None = None

    def for_properties(self, properties: Mapping) -> dict:
        style = {"color": self.color, "weight": self.weight,
                 "fillColor": self.fill_color or self.color, "fillOpacity": self.fill_opacity}
        if self.dash_array:
            style["dashArray"] = self.dash_array
        return style

    def legend(self) -> list[tuple[str | None, str]]:
        return [(None, self.color)]


@dataclass(frozen=True)
class CategoryStyle(Style):
    """Colour by the value of one field (a choice field, usually)."""

    field: str = ""
    colors: Mapping[str, str] = dc_field(default_factory=dict)

    def for_properties(self, properties: Mapping) -> dict:
        style = super().for_properties(properties)
        colour = self.colors.get(str(properties.get(self.field)), self.color)
        style.update(color=colour, fillColor=colour)
        return style

    def legend(self) -> list[tuple[str | None, str]]:
        return list(self.colors.items())


EDIT_ACTIONS = ("create", "update", "delete")


@dataclass(frozen=True)
class Editing:
    """Its features are edited one by one — the browser editor, OGC API Part 4, WFS-T — all through
    ``layers.editing`` (values checked as importers check them, the geometry in the feature's hromada,
    the version checked, the history naming the editor). Which roles may create, change and delete a
    feature, each held in the feature's hromada; None: the layer's ``Permissions.edit``."""

    create: frozenset[str] | None = None
    update: frozenset[str] | None = None
    delete: frozenset[str] | None = None
    # Fields the service keeps beyond the table's frame (id, hromada_id, raw, source, imported_at,
    # is_demo) and computed fields: shown, never set by an editor (ignored when sent back, as QGIS does).
    server_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permissions:
    view: str | frozenset[str] = PUBLIC  # "public", or the roles that may view
    edit: frozenset[str] = frozenset({"admin"})
    # Roles that see staff-only fields in the generic API. Narrow it where those fields belong to
    # one unit's work (a reporter's contacts): unit staff read those on their own queue pages.
    staff_fields: frozenset[str] = frozenset({"unit_staff", "planner", "admin"})
    # With Layer.public_rows: the roles that also see the rows that are not public (drafts).
    all_rows: frozenset[str] = frozenset({"planner", "admin"})
    # Whether (and by whom) its features are edited one by one (layers.editing); None: not that way
    # (imported whole, or edited through a workflow of its own such as a plan's zones).
    editing: Editing | None = None

    def roles_to(self, action: str) -> frozenset[str]:
        """The roles that may ``action`` ("create", "update", "delete") a feature; none without ``editing``."""
        if action not in EDIT_ACTIONS:
            raise ValueError(f"unknown editing action {action!r}; one of {EDIT_ACTIONS}")
        if self.editing is None:
            return frozenset()
        given = getattr(self.editing, action)
        return frozenset(self.edit if given is None else given)

    def may(self, action: str, roles: frozenset[str] | set[str] = frozenset()) -> bool:
        """Whether ``roles`` (held in the feature's hromada) may ``action`` a feature of the layer."""
        return bool(set(roles) & self.roles_to(action))

    def sees_staff_fields(self, roles: frozenset[str] | set[str] = frozenset()) -> bool:
        return bool(set(roles) & set(self.staff_fields))

    def can_view(self, roles: frozenset[str] | set[str] = frozenset()) -> bool:
        return self.view == PUBLIC or bool(set(roles) & set(self.view))

    def sees_all_rows(self, roles: frozenset[str] | set[str] = frozenset()) -> bool:
        return bool(set(roles) & set(self.all_rows))

    def can_edit(self, roles: frozenset[str] | set[str] = frozenset()) -> bool:
        return bool(set(roles) & set(self.edit))


@dataclass(frozen=True)
class AssetSpec:
    """The layer's features are assets reports can be about (a lamp, a road segment).

    A database trigger (migration 0008, function ``asset_sync``) mirrors each feature into the
    ``asset`` table under the same id, which is all that routing reads: kind, reference, owner.
    ``tests/layers/test_declarations.py`` checks the triggers' arguments against this spec.
    """

    kind: str  # category.asset_kind of the reports about it
    ref_field: str  # the number people see on it ("№ 301"); features without one show their name
    name_field: str | None = None
    owner_unit_field: str | None = None  # the unit that maintains it, when known per feature
    owner_class_field: str | None = None  # else the owner class (state, communal, …) → asset_owner
    # One open report per asset: a second one while it is open becomes a "me too" on the first
    # (a lamp is out or not; a long road segment can have many potholes, so not for roads).
    one_open_report: bool = False
    # Called as on_report(conn, asset_id, report_id, status) when a report on the asset is filed
    # ("new") or changes status, in the same transaction: a lamp turns faulty, then working again.
    on_report: Callable | None = None

    def trigger_args(self) -> tuple[str, ...]:
        return (self.kind, self.ref_field, self.name_field or "", self.owner_unit_field or "",
                self.owner_class_field or "")


@dataclass(frozen=True)
class OsmSpec:
    """How OpenStreetMap features map onto the layer (``hromada import LAYER extract.osm.pbf``).

    ``key``/``values`` pick the features (``highway`` = motorway…track). Each field takes the
    first present of its ``tags`` (``name:uk`` before ``name``), else ``computed`` from all the
    feature's tags (a road's owner from its ref), else its ``defaults`` value. A tag value the
    field cannot take (``surface=asphalt:lanes``) leaves the field empty and stays in ``raw``
    with the tags no field takes. ``layers.checks`` checks the names against the fields.
    """

    key: str
    values: tuple[str, ...] = ()  # empty: any value of ``key``
    tags: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)  # field → OSM tags
    computed: Mapping[str, Callable[[Mapping[str, str]], object]] = dc_field(default_factory=dict)
    defaults: Mapping[str, object] = dc_field(default_factory=dict)
    # More keys that pick features too, each with its values (empty: any): venues are
    # amenity=townhall…, shop=*, healthcare=*, highway=bus_stop…
    also: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)
    needs: tuple[str, ...] = ()  # a feature must have one of these tags too (a venue: name or name:uk)

    def picks(self, tags: Mapping[str, str]) -> bool:
        """Whether a feature with these tags is one of the layer's."""
        def has(key: str, values: tuple[str, ...]) -> bool:
            return tags.get(key) in values if values else key in tags

        return ((has(self.key, self.values) or any(has(k, v) for k, v in self.also.items()))
                and (not self.needs or any(str(tags.get(k) or "").strip() for k in self.needs)))


@dataclass(frozen=True)
class Layer:
    name: str
    title: Labels
    geometry: str  # GeoJSON geometry type of the features
    table: str
    fields: tuple[Field, ...]
    geometry_column: str = "geom"
    id_column: str = "id"
    # column linking a feature to its hromada (hromada.id); for the hromada layer itself, "id"
    hromada_column: str | None = "hromada_id"
    description: Labels = dc_field(default_factory=dict)
    popup: tuple[str, ...] = ()
    label_field: str | None = None  # the field that names a feature (list views, tooltips)
    # Drawn when the public map opens; the others wait in the collapsed layer list. The map is
    # first of all where residents report, so only what they report about (and the boundary) is on.
    on_map_at_first: bool = False
    # Small polygons (parcels): below this zoom their vector tiles hold clusters of points on their
    # surface instead of shapes smaller than a pixel, so a tile stays small however many there are.
    tiles_as_points_below: int | None = None
    style: Style = Style()
    categories: tuple[str, ...] = ()  # problem categories residents can report about it
    permissions: Permissions = Permissions()
    attribution: str | None = None  # shown on the map and in exports
    is_demo: bool = False  # the features are generated demo data
    generated_table: bool = False  # True: layers.tables builds the table from this declaration
    licence: str | None = None  # of the data, for open-data exports
    source: str | None = None  # where the data comes from, for open-data exports
    asset: AssetSpec | None = None  # its features are assets reports route by (lamps, roads)
    # A GiST index on geom::geography, for "nearest first" in metres (ORDER BY geom::geography <-> …)
    geography_index: bool = False
    # A boolean column: rows where it is false (a draft plan's zones) are seen only by the roles in
    # permissions.all_rows — never in tiles, exports or anyone else's API answers or maps.
    public_rows: str | None = None
    osm: OsmSpec | None = None  # how OpenStreetMap data maps onto it
    # Field values a file's name implies, for files without such columns (Ookla's
    # 2024-01-01_performance_mobile_tiles.parquet: network, period).
    values_from_file_name: Callable[[str], Mapping[str, object]] | None = None
    # Whether the database keeps every version of every feature (issue #19, layers.history): None, no
    # history; "staff", kept and shown to the staff of the feature's hromada who may edit the layer
    # (who, when, why, every field); "public", kept, and its public fields' history shown to anyone
    # too (never who or why, never a staff-only field). Triggers generated from this record every
    # write however it comes (browser, OGC API, importers, SQL) in ``feature_version``. Declared, not
    # derived from ``permissions.edit``: every layer has editors (admins by default), and the load-test
    # layers or Ookla's speed tiles, re-imported whole, need no history.
    history: str | None = None

    def __post_init__(self) -> None:
        if self.history not in HISTORY_KINDS:
            raise ValueError(f"layer {self.name!r}: history must be one of {HISTORY_KINDS}, not {self.history!r}")

    @property
    def keeps_history(self) -> bool:
        return self.history is not None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"layer {self.name!r} has no field {name!r}")

    @property
    def input_fields(self) -> tuple[Field, ...]:
        """The fields a file, a form or a person can give (not the computed ones)."""
        return tuple(f for f in self.fields if f.computed is None)

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.public)

    def visible_fields(self, staff: bool = False) -> tuple[Field, ...]:
        return self.fields if staff else self.public_fields

    def describe(self, lang: str = "uk", staff: bool = False) -> dict:
        """The declaration as plain JSON (for ``GET /api/layers``)."""
        return {
            "name": self.name,
            "title": label(self.title, lang),
            "titles": dict(self.title),
            "geometry": self.geometry,
            "fields": [
                {
                    "name": f.name, "type": f.type, "label": label(f.label, lang),
                    "labels": dict(f.label), "required": f.required,
                    **({"minimum": f.minimum} if f.minimum is not None else {}),
                    **({"maximum": f.maximum} if f.maximum is not None else {}),
                    **({"choices": {k: label(v, lang) for k, v in f.choices.items()}} if f.choices else {}),
                }
                for f in self.visible_fields(staff)
            ],
            "popup": [p for p in self.popup if staff or self.field(p).public],
            "categories": list(self.categories),
            "attribution": self.attribution,
            "demo": self.is_demo,
        }
