"""Consistency checks over layer declarations (run by the tests for every registered layer)."""
from __future__ import annotations

from gis.models import metadata
from layers.base import EDIT_ACTIONS, FIELD_TYPES, GEOMETRY_TYPES, CategoryStyle, Layer
from layers.categories import BY_CODE


def problems(layer: Layer, known_layers: set[str] | None = None) -> list[str]:
    """Everything wrong with ``layer``'s declaration, as sentences; empty when it is consistent."""
    out: list[str] = []
    names = [f.name for f in layer.fields]
    if len(set(names)) != len(names):
        out.append(f"{layer.name}: duplicate field names")
    for lbl_owner, labels in [("title", layer.title)] + [(f"field {f.name}", f.label) for f in layer.fields]:
        if not labels.get("uk") or not labels.get("en"):
            out.append(f"{layer.name}: {lbl_owner} needs a label in uk and en")
    if layer.geometry not in GEOMETRY_TYPES:
        out.append(f"{layer.name}: unknown geometry type {layer.geometry!r}")
    for f in layer.fields:
        if f.type not in FIELD_TYPES:
            out.append(f"{layer.name}: field {f.name} has unknown type {f.type!r}")
        if (f.type == "choice") != bool(f.choices):
            out.append(f"{layer.name}: field {f.name}: choices go with type 'choice' and only with it")
        for code, labels in (f.choices or {}).items():
            if not labels.get("uk") or not labels.get("en"):
                out.append(f"{layer.name}: choice {f.name}={code} needs uk and en labels")
    for p in layer.popup:
        if p not in names:
            out.append(f"{layer.name}: popup field {p!r} is not a field")
        elif not layer.field(p).public:
            out.append(f"{layer.name}: popup field {p!r} is staff-only, but the map is public")
    if layer.label_field and layer.label_field not in names:
        out.append(f"{layer.name}: label field {layer.label_field!r} is not a field")
    if isinstance(layer.style, CategoryStyle):
        if layer.style.field not in names:
            out.append(f"{layer.name}: style field {layer.style.field!r} is not a field")
        else:
            choices = layer.field(layer.style.field).choices or {}
            for value in layer.style.colors:
                if choices and value not in choices:
                    out.append(f"{layer.name}: style colours unknown value {value!r}")
    for code in layer.categories:
        if code not in BY_CODE:
            out.append(f"{layer.name}: category {code!r} is not in the catalogue")
    if layer.asset is not None:
        spec = layer.asset
        for role, name in (("ref", spec.ref_field), ("name", spec.name_field), ("owner unit", spec.owner_unit_field),
                           ("owner class", spec.owner_class_field)):
            if name is not None and name not in names:
                out.append(f"{layer.name}: asset {role} field {name!r} is not a field")
        for code in layer.categories:
            if code in BY_CODE and BY_CODE[code].asset_kind != spec.kind:
                out.append(f"{layer.name}: category {code!r} routes to assets of kind "
                           f"{BY_CODE[code].asset_kind!r}, but the layer's assets are {spec.kind!r}")
    if layer.osm is not None:
        spec = layer.osm
        if not spec.key:
            out.append(f"{layer.name}: the OSM spec needs a tag key")
        for part, mapping in (("tags", spec.tags), ("computed", spec.computed), ("defaults", spec.defaults)):
            for name in mapping:
                if name not in names:
                    out.append(f"{layer.name}: OSM {part} field {name!r} is not a field")
        for name, value in spec.defaults.items():
            choices = layer.field(name).choices if name in names else None
            if choices and value not in choices:
                out.append(f"{layer.name}: OSM default {name}={value!r} is not one of its choices")
    for f in layer.fields:
        if (f.minimum is not None or f.maximum is not None) and f.type not in ("integer", "number", "money"):
            out.append(f"{layer.name}: field {f.name}: a range goes with numbers only")
        if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
            out.append(f"{layer.name}: field {f.name}: its minimum is above its maximum")
    editing = layer.permissions.editing
    if editing is not None:
        # layers.editing: versions come from the history, roles are per hromada, tables are generated.
        if not layer.keeps_history:
            out.append(f"{layer.name}: an edited layer keeps its history (its versions are the ETags)")
        if not layer.generated_table or not layer.hromada_column:
            out.append(f"{layer.name}: an edited layer has a generated table with a hromada column")
        for action in EDIT_ACTIONS:
            roles = layer.permissions.roles_to(action)
            if not roles:
                out.append(f"{layer.name}: editing names no role that may {action}")
            elif not roles <= set(layer.permissions.edit):
                out.append(f"{layer.name}: the roles that may {action} ({sorted(roles)}) are not all among "
                           f"permissions.edit ({sorted(layer.permissions.edit)}), who read its full history")
        for name in editing.server_fields:
            if name not in names:
                out.append(f"{layer.name}: editing server field {name!r} is not a field")
    table = metadata.tables.get(layer.table)
    if table is None:
        out.append(f"{layer.name}: table {layer.table!r} does not exist")
    else:
        wanted = [f.column_name for f in layer.fields] + [layer.geometry_column, layer.id_column]
        if layer.hromada_column:
            wanted.append(layer.hromada_column)
        for column in wanted:
            if column not in table.c:
                out.append(f"{layer.name}: table {layer.table} has no column {column!r}")
    if known_layers is not None:
        for cat in BY_CODE.values():
            if cat.layer is not None and cat.layer not in known_layers:
                out.append(f"category {cat.code}: layer {cat.layer!r} is not registered")
    return out
