"""Demo reconstruction projects of the demo hromada: a handful of plausible projects in its villages at
different stages, with money from several sources, a Prozorro tender and a damage-register reference.

Everything here is invented — titles (marked "(демо)"), places, dates, amounts, tender and register
numbers — and flagged ``is_demo``. Fixed data (no randomness), loaded once per hromada: a hromada that
already has demo projects is left as it is (staff may have moved their stages since).
"""
from __future__ import annotations

import logging

import shapely
import sqlalchemy as sa

from layers import reconstruction as rc

log = logging.getLogger(__name__)
BY = "Демо / demo"

# (village, east/north offset from its centre in degrees, footprint kind, project, history, funding, extras)
PROJECTS = (
    ("Якушинці", (0.0012, -0.0006), "polygon", {
        "title_uk": "Протирадіаційне укриття Якушинецького ліцею (демо)",
        "title_en": "Shelter of the Yakushyntsi lyceum (demo)", "sector": "civil_protection",
        "project_type": "new_construction", "purpose": "development", "budget": "8450000.00", "unit": "culture",
        "description": "Укриття на 450 осіб, щоб діти навчалися офлайн під час тривог. Демонстраційні дані."},
     [("idea", "2024-09-02", "Запит батьків і педагогів"), ("financing", "2024-11-15", None),
      ("design", "2025-01-20", "Експертиза проєкту"), ("procurement", "2025-04-14", None),
      ("construction", "2025-06-02", "Підписано договір підряду")],
     [("state_subsidy", "Субвенція на облаштування укриттів (демо)", "5000000.00", "3200000.00", "2950000.40"),
      ("local_budget", None, "3450000.00", "1000000.00", "812345.60")],
     {"tenders": [("UA-2025-04-14-003217-a", "Будівництво укриття ліцею (демо)", "complete", "8120000.00")]}),
    ("Дашківці", (-0.0010, 0.0007), "polygon", {
        "title_uk": "Ремонт покрівлі амбулаторії в Дашківцях (демо)",
        "title_en": "Roof repair of the Dashkivtsi outpatient clinic (demo)", "sector": "health",
        "project_type": "capital_repair", "purpose": "restoration", "budget": "2140000.00", "unit": "social",
        "description": "Покрівлю пошкоджено уламками; ремонт із заміною покриття. Демонстраційні дані."},
     [("damage_recorded", "2023-05-14", "Пошкодження уламками (демо)"), ("idea", "2023-06-01", None),
      ("financing", "2023-08-10", None), ("design", "2023-10-02", None), ("procurement", "2024-02-19", None),
      ("construction", "2024-04-01", None), ("commissioning", "2024-10-28", "Акт введення в експлуатацію")],
     [("liquidation_fund", "Фонд ліквідації наслідків збройної агресії", "2140000.00", "2140000.00", "2118500.00")],
     {"tenders": [("UA-2024-02-19-004512-a", "Капітальний ремонт покрівлі амбулаторії (демо)", "complete",
                   "2118500.00")], "damage": ["РПМ-05-2023-000417 (демо)"]}),
    ("Пултівці", (0.0, 0.0), "line", {
        "title_uk": "Реконструкція водогону в Пултівцях (демо)",
        "title_en": "Reconstruction of the Pultivtsi water main (demo)", "sector": "water",
        "project_type": "reconstruction", "purpose": "development", "budget": "12600000.00", "unit": "housing",
        "description": "2,4 км труб і нова насосна станція. Демонстраційні дані."},
     [("idea", "2024-03-11", None), ("financing", "2024-06-20", "Заявка до міжнародного партнера"),
      ("design", "2025-02-03", None), ("procurement", "2025-09-15", None)],
     [("international", "Міжнародний партнер (демо)", "9000000.00", "0.00", "0.00"),
      ("local_budget", None, "1200000.00", "600000.00", "410200.00")],
     {"tenders": [("UA-2025-09-15-007730-a", "Реконструкція водогону (демо)", "active", None)]}),
    ("Зарванці", (0.0, 0.0006), "line", {
        "title_uk": "Енергоефективне вуличне освітлення Зарванців (демо)",
        "title_en": "Energy-efficient street lighting in Zarvantsi (demo)", "sector": "energy",
        "project_type": "reconstruction", "purpose": "development", "budget": "980000.00",
        "unit": "kp_blagoustrij",
        "description": "Заміна ламп на світлодіодні й автоматичне керування. Демонстраційні дані."},
     [("idea", "2025-02-10", None), ("financing", "2025-04-01", None), ("design", "2025-07-07", None)],
     [("donors", "Благодійний фонд (демо)", "500000.00", "500000.00", "120000.00"),
      ("local_budget", None, "480000.00", "0.00", "0.00")], {}),
    ("Березина", (0.0008, 0.0008), "point", {
        "title_uk": "Модульне житло для внутрішньо переміщених осіб у Березині (демо)",
        "title_en": "Modular housing for internally displaced people in Berezyna (demo)", "sector": "housing",
        "project_type": "new_construction", "purpose": "development", "budget": "25000000.00", "unit": "housing",
        "description": "24 квартири для переселенців. Шукаємо фінансування. Демонстраційні дані."},
     [("idea", "2025-05-19", None), ("financing", "2025-08-25", "Заявку подано до United24 (демо)")],
     [("local_budget", "Кошти на проєктування", "300000.00", "0.00", "0.00")], {}),
    ("Майдан", (-0.0006, -0.0004), "point", {
        "title_uk": "Капітальний ремонт будинку культури в Майдані (демо)",
        "title_en": "Capital repair of the Maidan house of culture (demo)", "sector": "culture",
        "project_type": "capital_repair", "purpose": "development", "budget": "3700000.00", "unit": "culture",
        "description": "Проєкт скасовано: кошти спрямовано на укриття. Демонстраційні дані."},
     [("idea", "2024-04-08", None), ("financing", "2024-07-01", None),
      ("cancelled", "2025-01-15", "Кошти спрямовано на укриття ліцею")], [], {}),
)


def _footprint(kind: str, centre) -> dict | None:
    if kind == "polygon":
        return shapely.geometry.mapping(shapely.box(centre.x - 0.0003, centre.y - 0.0002,
                                                    centre.x + 0.0003, centre.y + 0.0002))
    if kind == "line":
        line = shapely.LineString([(centre.x - 0.006, centre.y - 0.001), (centre.x, centre.y),
                                   (centre.x + 0.008, centre.y + 0.002)])
        return shapely.geometry.mapping(line)
    return None


def load_demo_reconstruction(conn: sa.Connection, hromada_id: int, centres: dict, unit_ids: dict[str, int]) -> None:
    """The demo projects of the hromada, once (see the module's docstring). ``centres``: village name →
    centre point (EPSG:4326); ``unit_ids``: demo unit code → id."""
    exists = conn.execute(sa.text("SELECT 1 FROM reconstruction_project WHERE hromada_id = :h AND is_demo LIMIT 1"),
                          {"h": hromada_id}).first()
    if exists is not None:
        return
    for village, (dx, dy), kind, facts, history, funding, extras in PROJECTS:
        centre = centres.get(village) or next(iter(centres.values()))
        centre = shapely.Point(centre.x + dx, centre.y + dy)
        facts = dict(facts)
        unit = unit_ids.get(facts.pop("unit"))
        footprint = _footprint(kind, centre)
        first_stage, first_day, first_note = history[0]
        project_id = rc.create_project(
            conn, hromada_id, **facts, stage=first_stage, entered_at=first_day, note=first_note, by=BY,
            source="demo", is_demo=True, responsible_unit_id=unit, address=f"с. {village}", footprint=footprint,
            lon=None if footprint and kind != "point" else centre.x,
            lat=None if footprint and kind != "point" else centre.y)
        for stage, day, note in history[1:]:
            rc.set_stage(conn, project_id, stage, at=day, note=note, by=BY, source="demo")
        for source, party, available, disbursed, spent in funding:
            rc.add_funding(conn, project_id, source, available, disbursed, spent, party=party)
        for tender_id, title, status, amount in extras.get("tenders", ()):
            rc.add_tender(conn, project_id, tender_id, title=title, status=status, amount=amount)
        for ref in extras.get("damage", ()):
            rc.add_damage_ref(conn, project_id, ref)
    log.info("demo reconstruction projects of hromada %s: %d", hromada_id, len(PROJECTS))
