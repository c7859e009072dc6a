"""Demo spatial plans for the demo hromada (issue #9), so the plan pages and the editor show something.

- an approved general plan of one village (Лукашівка when loaded, away from the villages the tests
  draw in): a 1.6 × 1.2 km territory around
  its centre with six functional zones in a 3 × 2 grid (houses, public centre, recreation, …),
  approved by a decision numbered "… (демо)";
- a draft comprehensive plan of the whole hromada with two zones near another village, seen only
  by planners and admins.

Titles, zones and decisions are invented; plans and zones are flagged ``is_demo`` (source ``demo``).
Each zone passes the rules of layers.plans (valid, within the plan and the hromada, no overlap) and
gets its first history version from the trigger, written by :data:`AUTHOR`. The approved plan was
"approved" long before it is loaded: its zones count from the decision date
(layers.plans.count_from_approval), so the plan as of any day since shows them (#19). Seeded and
idempotent: a plan that exists (by hromada and title) is left as it is, save that dating.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

import sqlalchemy as sa

from layers import plans

log = logging.getLogger(__name__)

AUTHOR = "завантаження демо-даних / demo loader"  # who the history names (no account writes the demo)


def loader(hromada_id: int) -> plans.Editor:
    """The demo loader acts as a planner of the demo hromada."""
    return plans.Editor(user_id=None, grants={hromada_id: frozenset({"planner"})}, name=AUTHOR)


REASON = "демонстраційні дані / demo data"
VILLAGE = "Лукашівка"
GENERAL_TITLE = "Генеральний план села {village} (демо)"
COMPREHENSIVE_TITLE = "Комплексний план просторового розвитку Якушинецької громади (проєкт, демо)"
DECISION = ("27/512 (демо)", dt.date(2024, 3, 15))
HALF_W, HALF_H = 0.011, 0.0054  # ≈ 800 m × 600 m at 49° N: half the general plan's territory
# (column, row) of the 3 × 2 grid → zone; the grid leaves a 60 m margin inside the territory.
GENERAL_ZONES = (
    ((0, 0), {"zone_code": "Ж-1", "name": "Садибна забудова: захід (демо)",
              "permitted_uses": "садибні житлові будинки, присадибні ділянки", "max_height_m": 12, "max_density": 40}),
    ((1, 0), {"zone_code": "Г-1", "name": "Громадський центр (демо)",
              "permitted_uses": "школа, ЦНАП, магазини, амбулаторія", "max_height_m": 15}),
    ((2, 0), {"zone_code": "Ж-1", "name": "Садибна забудова: схід (демо)", "permitted_uses": "садибні житлові будинки",
              "max_height_m": 12, "max_density": 40}),
    ((0, 1), {"zone_code": "Р", "name": "Парк над річкою (демо)", "permitted_uses": "парк, спортивні майданчики"}),
    ((1, 1), {"zone_code": "ТР", "name": "Автостанція (демо)", "permitted_uses": "зупинка, стоянка, АЗС"}),
    ((2, 1), {"zone_code": "С", "name": "Городи й сади (демо)", "permitted_uses": "городництво, садівництво"}),
)
COMPREHENSIVE_ZONES = (
    ((0, 0), {"zone_code": "П", "name": "Виробнича зона (проєкт, демо)",
              "permitted_uses": "переробка сільгосппродукції"}),
    ((1, 0), {"zone_code": "ПЗ", "name": "Природоохоронна зона (проєкт, демо)", "permitted_uses": "заказник, стежки"}),
)


def _box(lon: float, lat: float, half_w: float, half_h: float) -> dict:
    x0, y0, x1, y1 = lon - half_w, lat - half_h, lon + half_w, lat + half_h
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _cell(lon: float, lat: float, half_w: float, half_h: float, col: int, row: int, cols: int, rows: int) -> dict:
    margin_x, margin_y = half_w * 0.08, half_h * 0.1
    width, height = (2 * half_w - 2 * margin_x) / cols, (2 * half_h - 2 * margin_y) / rows
    x0, y0 = lon - half_w + margin_x + col * width, lat - half_h + margin_y + row * height
    return _box(x0 + width / 2, y0 + height / 2, width / 2, height / 2)


def _clip(conn: sa.Connection, geometry: dict, hromada_id: int) -> dict | None:
    """The part of ``geometry`` inside the hromada (a village near the border), or None if nothing is."""
    found = conn.execute(sa.text("""
        SELECT ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Intersection(
                   ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), boundary), 3)), 9)
        FROM hromada WHERE id = :h AND """
        """ST_Area(ST_Intersection(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), boundary)) > 0"""),
        {"g": json.dumps(geometry), "h": hromada_id}).scalar()
    return json.loads(found) if found else None


def _add_zone(conn: sa.Connection, plan_id: int, hromada_id: int, attributes: dict, geometry: dict) -> None:
    """A demo zone, checked by the plan rules and written with ``is_demo`` (so its first version is it)."""
    geom = conn.execute(sa.text("SELECT ST_AsEWKB(ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)))"),
                        {"g": json.dumps(geometry)}).scalar_one()
    plans.check_zone(conn, plan_id, bytes(geom))
    values = {k: attributes.get(k) for k in plans.ATTRIBUTES}
    conn.execute(sa.text("SELECT set_config('hromada.user_id', '', true), set_config('hromada.reason', :r, true), "
                         "set_config('hromada.author', :a, true)"), {"r": REASON, "a": AUTHOR})
    conn.execute(sa.text(f"""
        INSERT INTO plan_zone (hromada_id, plan_id, {', '.join(plans.ATTRIBUTES)}, version, updated_at, published,
                               geom, is_demo, source)
        VALUES (:h, :p, {', '.join(':' + a for a in plans.ATTRIBUTES)}, 1, now(),
                (SELECT status <> 'draft' FROM plan WHERE id = :p), ST_GeomFromEWKB(:g), true, 'demo')"""),
        {"h": hromada_id, "p": plan_id, "g": bytes(geom), **values})


def _plan(conn: sa.Connection, hromada_id: int, title: str, plan_type: str, area: dict,
          zones: tuple, centre: tuple[float, float], half: tuple[float, float]) -> int | None:
    existing = conn.execute(sa.text("SELECT id FROM plan WHERE hromada_id = :h AND title = :t"),
                            {"h": hromada_id, "t": title}).scalar()
    if existing is not None:
        return None
    plan_id = plans.create_plan(conn, loader(hromada_id), hromada_id=hromada_id, title=title, plan_type=plan_type,
                                area_geojson=area, documents="Пояснювальна записка; графічні матеріали (демо)")
    conn.execute(sa.text("UPDATE plan SET is_demo = true, source = 'demo' WHERE id = :p"), {"p": plan_id})
    cols = max(c for (c, _), _ in zones) + 1
    rows = max(r for (_, r), _ in zones) + 1
    for (col, row), attributes in zones:
        cell = _clip(conn, _cell(*centre, *half, col, row, cols, rows), hromada_id)
        if cell is not None:
            _add_zone(conn, plan_id, hromada_id, attributes, cell)
    return plan_id


def load_demo_plans(conn: sa.Connection, hromada_id: int, centres: dict, villages: dict) -> None:
    """The demo's two plans (see the module's docstring); nothing happens for a plan already there."""
    names = sorted(centres)
    if not names:
        return
    village = VILLAGE if VILLAGE in centres else names[0]
    lon, lat = centres[village].x, centres[village].y
    area = _clip(conn, _box(lon, lat, HALF_W, HALF_H), hromada_id)
    if area is not None:
        title = GENERAL_TITLE.format(village=village)
        general = _plan(conn, hromada_id, title, "general", area, GENERAL_ZONES, (lon, lat), (HALF_W, HALF_H))
        if general is not None:
            plans.set_plan_status(conn, general, "discussion", loader(hromada_id))
            plans.set_plan_status(conn, general, "approved", loader(hromada_id), decision_number=DECISION[0],
                                  decision_date=DECISION[1])
        else:  # loaded before: dated below unless it was already (or is no longer approved)
            general = conn.execute(sa.text("SELECT id FROM plan WHERE hromada_id = :h AND title = :t "
                                           "AND status IN ('approved', 'superseded') AND decision_date IS NOT NULL"),
                                   {"h": hromada_id, "t": title}).scalar()
        if general is not None:
            plans.count_from_approval(conn, general)  # approved in 2024, loaded today: it counts from then
    other = next((n for n in names if n != village), village)
    whole = conn.execute(sa.text("SELECT ST_AsGeoJSON(ST_Multi(boundary), 9) FROM hromada WHERE id = :h"),
                         {"h": hromada_id}).scalar()
    if whole:
        # Zones of 600 × 400 m a kilometre south of the other village, clear of its houses.
        _plan(conn, hromada_id, COMPREHENSIVE_TITLE, "comprehensive", json.loads(whole), COMPREHENSIVE_ZONES,
              (centres[other].x, centres[other].y - 0.009), (0.0082, 0.0018))
    log.info("demo plans: %s and the hromada's comprehensive plan", village)
