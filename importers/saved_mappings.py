"""Saved field mappings: how a known source file maps onto a layer, kept in the repository.

``hromada import heritage_objects FILE --mapping vinnytska_protected_areas`` applies
``importers/mappings/vinnytska_protected_areas.json``::

    {"layer": "heritage_objects",                     # the layer it is written for
     "description": {"uk": …, "en": …},
     "where": {"SOURCE COLUMN": ["value", …]},        # keep only rows with one of these values
     "columns": {"SOURCE COLUMN": "field", …},        # as --map (an explicit --map still wins)
     "values": {"field": {"source value": "code"}},   # value maps, before the field's own checks
     "constants": {"field": value}}                   # for every row (a list for a JSON field)

Values compare case-insensitively with runs of white space as one space (the register writes
"садово-паркового\\nмистецтва" across two lines). A value a value map does not know goes on as
given and the field's own check accepts or rejects it (with the row's number). Rows ``where``
leaves out are counted as skipped; rejection row numbers count the rows kept.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from gis.errors import InvalidInput
from layers.base import Layer

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
CONSTANT_COLUMN = "mapping constant: {}"  # the column a constant travels in (shown in the report)


def _norm(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().lower()


@dataclass(frozen=True)
class SavedMapping:
    name: str
    layer: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    where: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)

    def check(self, layer: Layer) -> None:
        """InvalidInput when the mapping is for another layer or names fields it does not have."""
        if layer.name != self.layer:
            raise InvalidInput(f"Збережене зіставлення {self.name} — для шару {self.layer}, а не {layer.name}",
                               f"Saved mapping {self.name} is for layer {self.layer}, not {layer.name}")
        fields = {f.name for f in layer.input_fields}
        named = set(self.columns.values()) | set(self.values) | set(self.constants)
        unknown = sorted(named - fields)
        if unknown:
            raise InvalidInput(f"Зіставлення {self.name}: у шарі {layer.name} немає полів {', '.join(unknown)}",
                               f"Mapping {self.name}: layer {layer.name} has no fields {', '.join(unknown)}")

    def explicit_columns(self, given: dict[str, str]) -> dict[str, str]:
        """Source column → field: the saved columns and constants, then ``--map`` over them."""
        out = {src: dst for src, dst in self.columns.items() if dst not in given.values()}
        out.update({CONSTANT_COLUMN.format(name): name for name in self.constants if name not in given.values()})
        out.update(given)
        return out

    def prepare(self, batch):
        """One batch of the source as the mapping says: rows filtered, values mapped, constants added."""
        missing = [c for c in [*self.where, *self.columns] if c not in batch.columns]
        if missing:
            raise InvalidInput(f"Зіставлення {self.name}: у файлі немає колонок {', '.join(missing)}",
                               f"Mapping {self.name}: the file has no columns {', '.join(missing)}")
        for column, wanted in self.where.items():
            keep = {_norm(v) for v in wanted}
            batch = batch[batch[column].map(
                lambda v, keep=keep: v is not None and not pd.isna(v) and _norm(v) in keep).astype(bool)]
        batch = batch.copy()
        source_of = {dst: src for src, dst in self.columns.items()}
        for name, table in self.values.items():
            column = source_of.get(name)
            if column is None:
                continue
            lookup = {_norm(k): v for k, v in table.items()}
            batch[column] = batch[column].map(
                lambda v, lookup=lookup: lookup.get(_norm(v), v) if isinstance(v, str) else v)
        for name, value in self.constants.items():
            text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
            batch[CONSTANT_COLUMN.format(name)] = pd.Series([text] * len(batch), index=batch.index, dtype=object)
        return batch.reset_index(drop=True)


def available() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.json"))


def load_mapping(name: str) -> SavedMapping:
    """The saved mapping ``importers/mappings/NAME.json``; InvalidInput for an unknown or broken one."""
    if not NAME_PATTERN.match(name or "") or not (MAPPINGS_DIR / f"{name}.json").is_file():
        raise InvalidInput(f"Немає збереженого зіставлення {name!r}; є: {', '.join(available()) or '—'}",
                           f"There is no saved mapping {name!r}; there are: {', '.join(available()) or '—'}")
    try:
        data = json.loads((MAPPINGS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        mapping = SavedMapping(
            name=name, layer=data["layer"], columns=dict(data.get("columns", {})),
            values={k: dict(v) for k, v in data.get("values", {}).items()},
            where={k: list(v) for k, v in data.get("where", {}).items()},
            constants=dict(data.get("constants", {})), description=dict(data.get("description", {})))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"Зіставлення {name} пошкоджене: {exc}", f"Mapping {name} is broken: {exc}") from None
    return mapping


def apply(mapping: SavedMapping, layer: Layer, options):
    """``options`` (an ImportOptions) with the mapping's columns and its batch preparation."""
    mapping.check(layer)
    return replace(options, mapping=mapping.explicit_columns(options.mapping), prepare=mapping.prepare)
