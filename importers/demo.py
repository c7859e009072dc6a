"""The demo community: Якушинецька сільська громада (Vinnytsia raion), from ``../shared/data``.

Real boundary and villages (OpenStreetMap, ODbL). Its set-up — units, starosta districts, who
handles what where, road owners — is the file ``demo_setup.yaml`` next to this module, applied
with gis.setup_file.apply_setup like any hromada's (`hromada setup apply`). The split of villages
into five starosta districts, the e-mail addresses and the enterprise's name are invented for the
demo; its units are flagged ``is_demo``. Loading is idempotent: a second run changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from pathlib import Path

import shapely
import sqlalchemy as sa
import yaml

from gis import config
from gis.audit import By
from gis.bulk import ewkb
from gis.hromada_setup import rederive_areas
from gis.models import hromada, settlement, unit
from gis.setup_file import apply_setup
from importers.communities import LoadReport, load_communities, load_settlements
from importers.demo_addresses import load_demo_addresses
from importers.demo_coverage import load_demo_coverage
from importers.demo_heritage import load_demo_heritage
from importers.demo_land import load_demo_land
from importers.demo_plans import load_demo_plans
from importers.demo_property import load_demo_property
from importers.demo_reconstruction import load_demo_reconstruction
from importers.demo_transit import load_demo_transit
from importers.demo_venues import load_demo_venues
from layers.categories import sync_categories
from layers.lighting import STREET_LAMPS
from layers.roads import ROAD_SEGMENTS
from layers.tables import build_table

log = logging.getLogger(__name__)
DEMO_KATOTTG = config.DEMO_KATOTTG
BOUNDARY_FILE = "ukraine/yakushynetska_boundary.geojson"
SETTLEMENTS_FILE = "ukraine/yakushynetska_settlements.geojson"
SETUP_FILE = Path(__file__).with_name("demo_setup.yaml")
DEMO = By("demo")
# The demo's unit codes (the file is the one source of them).
UNITS = tuple(u["code"] for u in yaml.safe_load(SETUP_FILE.read_text(encoding="utf-8"))["units"])


def load_demo(engine: sa.Engine, data_dir: Path | None = None) -> list[LoadReport]:
    """Load the demo hromada, its villages, units and who handles which category. Idempotent."""
    data_dir = Path(data_dir or config.shared_data_dir())
    # One transaction: a failure part-way leaves nothing half-loaded.
    with engine.begin() as conn:
        reports = [
            load_communities(conn, data_dir / BOUNDARY_FILE, katottg=[DEMO_KATOTTG]),
            load_settlements(conn, data_dir / SETTLEMENTS_FILE),
        ]
        sync_categories(conn)
        hromada_id, boundary_wkb = conn.execute(
            sa.select(hromada.c.id, sa.func.ST_AsBinary(hromada.c.boundary))
            .where(hromada.c.katottg == DEMO_KATOTTG)).one()
        boundary = shapely.from_wkb(bytes(boundary_wkb))
        centres = {name: shapely.from_wkb(bytes(wkb)) for name, wkb in conn.execute(
            sa.select(settlement.c.name_uk, sa.func.ST_AsBinary(settlement.c.centre))
            .where(settlement.c.hromada_id == hromada_id))}
        apply_setup(conn, SETUP_FILE.read_text(encoding="utf-8"), by=DEMO)
        rederive_areas(conn, hromada_id)  # the villages' shapes may have changed since (writes only then)
        conn.execute(unit.update().where(unit.c.hromada_id == hromada_id, unit.c.is_demo.is_(False))
                     .values(is_demo=True))
        unit_ids = dict(conn.execute(sa.select(unit.c.code, unit.c.id).where(unit.c.hromada_id == hromada_id)).all())
        villages = {name: shapely.from_wkb(bytes(wkb)) for name, wkb in conn.execute(
            sa.select(settlement.c.name_uk, sa.func.ST_AsBinary(settlement.c.boundary))
            .where(settlement.c.hromada_id == hromada_id, settlement.c.boundary.is_not(None)))}
        load_demo_assets(conn, hromada_id, centres, villages, unit_ids)
        load_demo_coverage(conn, hromada_id, boundary, centres)
        load_demo_heritage(conn, hromada_id, DEMO_KATOTTG, centres)
        load_demo_venues(conn, hromada_id, centres)
        load_demo_reconstruction(conn, hromada_id, centres, unit_ids)
        load_demo_land(conn, hromada_id, centres, villages)
        load_demo_property(conn, hromada_id, centres, unit_ids)
        load_demo_plans(conn, hromada_id, centres, villages)
        load_demo_addresses(conn, hromada_id)  # along the demo streets above (#17)
        load_demo_transit(conn, hromada_id, DEMO_KATOTTG, centres)  # two invented bus routes (#21)
    return reports


LAMPS_PER_VILLAGE = 6
LAMP_SPACING_DEG = 0.0011  # ≈ 80 m of longitude at 49° N
MAIN_STREET_HALF_DEG = 0.009  # main streets run up to ≈ 650 m each way from the centre, within the village
SIDE_STREET_HALF_DEG = 0.004
SIDE_STREET_EAST_DEG = 0.004  # ≈ 290 m east of the centre: beyond the main street's lamps, so unlit
DEMO_STATE_ROAD = ((28.20, 49.262), (28.45, 49.262))  # invented "state road" across the hromada


def _street(centre, village, dx: float, dy: float, east: float = 0.0):
    """The part, through the centre (or ``east`` degrees east of it), of a straight line clipped to the
    village (or unclipped)."""
    centre = shapely.Point(centre.x + east, centre.y)
    line = shapely.LineString([(centre.x - dx, centre.y - dy), (centre.x + dx, centre.y + dy)])
    if village is None:
        return line
    part = line.intersection(village)
    pieces = list(getattr(part, "geoms", [part]))
    pieces = [p for p in pieces if p.geom_type == "LineString" and not p.is_empty]
    return min(pieces, key=lambda p: p.distance(centre)) if pieces else line


def demo_roads_and_lamps(hromada_id: int, centres: dict[str, object], villages: dict[str, object],
                         unit_ids: dict[str, int]) -> tuple[list[dict], list[dict]]:
    """Per village: a lit asphalt main street through the centre with six lamps (one faulty in some
    villages), an unlit gravel side street crossing it further east; and a state road across the hromada.
    Seeded: the same every time. Numbers on the lamps: the village's place in alphabetical order × 100 + 1…6."""
    rng = random.Random(6)
    roads, lamps = [], []
    for number, (village, centre) in enumerate(sorted(centres.items()), start=1):
        area = villages.get(village)
        roads.append(_demo_row(hromada_id, _street(centre, area, MAIN_STREET_HALF_DEG, 0), name="вул. Центральна",
                               ref=None,
                               road_class="residential", owner="communal", surface="asphalt",
                               condition=str(rng.choice([2, 3, 3, 4, 4, 5])), pci=float(rng.randint(35, 95)),
                               inspected_on=dt.date(2026, rng.randint(3, 10), rng.randint(1, 28)), lit=True,
                               osm_id=f"demo-{number}-main"))
        roads.append(_demo_row(hromada_id, _street(centre, area, 0, SIDE_STREET_HALF_DEG, east=SIDE_STREET_EAST_DEG),
                               name="вул. Садова", ref=None,
                               road_class="residential", owner="communal", surface=rng.choice(["gravel", "ground"]),
                               condition=str(rng.choice([1, 2, 2, 3])), pci=None,
                               inspected_on=dt.date(2025, rng.randint(4, 10), rng.randint(1, 28)), lit=False,
                               osm_id=f"demo-{number}-side"))
        for i in range(LAMPS_PER_VILLAGE):
            ref = str(number * 100 + i + 1)
            status = "faulty" if number % 4 == 0 and i == 2 else "working"
            lamps.append(_demo_row(hromada_id, shapely.Point(centre.x + LAMP_SPACING_DEG * (i - LAMPS_PER_VILLAGE // 2),
                                                             centre.y),
                                   ref=ref, operator_unit_id=unit_ids["kp_blagoustrij"], support="street_lamp_pole",
                                   lamp_type=rng.choice(["LED", "LED", "high_pressure_sodium"]),
                                   power_w=float(rng.choice([40, 60, 100])), cabinet=f"ШК-{number}",
                                   control=rng.choice(["photocell", "schedule", "smart"]), status=status,
                                   installed_on=dt.date(rng.randint(2012, 2024), 6, 1),
                                   inspected_on=dt.date(2026, rng.randint(1, 10), 15), osm_id=f"demo-lamp-{ref}"))
    roads.append(_demo_row(hromada_id, shapely.LineString(DEMO_STATE_ROAD),
                           name="Автодорога державного значення (демо)",
                           ref="M-DEMO", road_class="primary", owner="state", surface="asphalt", condition="3",
                           pci=61.0, inspected_on=dt.date(2026, 5, 12), lit=False, osm_id="demo-state-road"))
    return roads, lamps


def _demo_row(hromada_id: int, geom, **fields) -> dict:
    return {"hromada_id": hromada_id, **fields, "geom": sa.func.ST_GeomFromEWKB(ewkb(geom)),
            "source": "demo", "is_demo": True}


def load_demo_assets(conn: sa.Connection, hromada_id: int, centres: dict, villages: dict,
                     unit_ids: dict[str, int]) -> None:
    """Roads and lamps, once: a layer that already has demo features for the hromada is left as it is
    (staff may have changed lamp statuses or recorded repairs since)."""
    roads_table, lamps_table = build_table(ROAD_SEGMENTS), build_table(STREET_LAMPS)
    roads, lamps = demo_roads_and_lamps(hromada_id, centres, villages, unit_ids)
    for table, rows in ((roads_table, roads), (lamps_table, lamps)):
        exists = conn.execute(sa.select(sa.literal(1)).select_from(table)
                              .where(table.c.hromada_id == hromada_id, table.c.is_demo).limit(1)).first()
        if exists is None:
            conn.execute(table.insert().values(rows))
