"""The catalogue of problem categories residents can report.

Declared here once; ``sync_categories`` writes it into the ``category`` table, and layer
declarations refer to these codes. Which unit handles a category where is data (unit_category).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gis.models import category


@dataclass(frozen=True)
class CategoryDef:
    code: str
    uk: str
    en: str
    layer: str | None = None  # the layer whose assets it concerns
    target_days: int = 10
    asset_kind: str | None = None  # routed to the owner of a nearby asset of this kind
    snap_distance_m: int = 25  # how near that asset must be
    ask_fixed_after_days: int = 28  # "is it fixed?" this long after a report is resolved
    premoderate: bool = False  # a new report is public only once staff approve it


CATEGORIES: tuple[CategoryDef, ...] = (
    CategoryDef("pothole", "Яма на дорозі", "Pothole", target_days=14, asset_kind="road_segment",
                layer="road_segments"),
    CategoryDef("street_light_out", "Не світить ліхтар", "Street light not working", target_days=5,
                asset_kind="street_lamp", layer="street_lamps"),
    CategoryDef("overflowing_bin", "Переповнений смітник", "Overflowing bin", target_days=2),
    CategoryDef("illegal_dump", "Стихійне сміттєзвалище", "Illegal dumping", target_days=10),
    CategoryDef("fallen_tree", "Аварійне або повалене дерево", "Fallen or dangerous tree", target_days=3),
    CategoryDef("water_leak", "Витік води", "Water leak", target_days=2),
    CategoryDef("no_signal", "Немає зв'язку чи інтернету", "No mobile signal or internet", target_days=30),
    CategoryDef("accessibility_barrier", "Бар'єр для людей з інвалідністю",
                "Barrier for people with disabilities", target_days=14),
    CategoryDef("damaged_heritage", "Пошкоджена пам'ятка", "Damaged heritage site", target_days=30),
    CategoryDef("transit_stop_problem", "Проблема на зупинці громадського транспорту",
                "Problem at a public transport stop", target_days=7, layer="transit_stops"),
)
BY_CODE = {c.code: c for c in CATEGORIES}


def sync_categories(conn: sa.Connection) -> None:
    """Insert or update every catalogue category (by code). Idempotent."""
    rows = [{"code": c.code, "name_uk": c.uk, "name_en": c.en, "layer": c.layer,
             "target_days": c.target_days, "asset_kind": c.asset_kind,
             "snap_distance_m": c.snap_distance_m, "ask_fixed_after_days": c.ask_fixed_after_days,
             "premoderate": c.premoderate}
            for c in CATEGORIES]
    stmt = insert(category).values(rows)
    data = ("name_uk", "name_en", "layer", "target_days", "asset_kind", "snap_distance_m", "ask_fixed_after_days",
            "premoderate")
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[category.c.code],
        set_={k: stmt.excluded[k] for k in data},
        where=sa.or_(*[category.c[k].is_distinct_from(stmt.excluded[k]) for k in data]),
    ))
