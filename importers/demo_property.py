"""Demo communal property for the demo hromada, so the register page shows something real-looking.

In each village: the council or starosta office, the school, the club and the ФАП buildings, the
water supply network; in a few, premises leased to a legal entity (a pharmacy chain) or to a sole
trader, whose name stays staff-only; land plots under the buildings. Invented, flagged ``is_demo``,
source ``demo``; seeded and idempotent like the other demo loaders (``raw.demo_key``).
"""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa
from shapely.geometry import Point

from importers.demo_common import DEMO_SOURCE, demo_key, round_geometry, sync_demo_rows
from layers.property import COMMUNAL_PROPERTY
from layers.tables import build_table

SEED = 8
OFFSETS = {"office": (0.0004, 0.0002), "school": (-0.0012, 0.0008), "club": (0.0009, -0.0007),
           "fap": (-0.0006, -0.0010), "network": (0.0016, 0.0011)}


def property_rows(hromada_id: int, centres: dict[str, Point], unit_ids: dict[str, int]) -> list[dict]:
    rng = random.Random(SEED)
    rows = []

    def add(village, kind, **fields):
        c = centres[village]
        dx, dy = OFFSETS[kind]
        row = {"hromada_id": hromada_id, "geom": round_geometry(Point(c.x + dx, c.y + dy)), "source": DEMO_SOURCE,
               "is_demo": True, "tenant_kind": "none", **fields}
        row["raw"] = {"demo_key": demo_key(village, kind, sorted((k, str(v)) for k, v in fields.items()))}
        rows.append(row)

    for number, village in enumerate(sorted(centres), start=1):
        home = village == "Якушинці"
        add(village, "office", inventory_number=f"10130{number:03d}",
            name="Адмінбудинок сільської ради" if home else f"Будівля старостату, {village}", type="building",
            address=f"{village}, вул. Центральна, {number}", balance_holder_unit_id=unit_ids["general"],
            use="адміністративна будівля", area_m2=float(rng.randint(180, 900)),
            condition=rng.choice(["good", "fair", "fair", "poor"]),
            documents="Рішення сесії № 2/12 від 2021-01-28 (демо)")
        add(village, "school", inventory_number=f"10131{number:03d}",
            name=f"Будівля {'ліцею' if home else 'гімназії'}, {village}", type="building",
            address=f"{village}, вул. Шкільна, {number + 2}", balance_holder_unit_id=unit_ids["culture"],
            use="освіта", area_m2=float(rng.randint(900, 3200)), condition=rng.choice(["good", "fair", "poor"]))
        add(village, "club", inventory_number=f"10132{number:03d}", name=f"Сільський клуб, {village}", type="building",
            address=f"{village}, вул. Центральна, {number + 10}", balance_holder_unit_id=unit_ids["culture"],
            use="культура", area_m2=float(rng.randint(250, 700)),
            condition=rng.choice(["fair", "poor", "emergency"]))
        fap = {"inventory_number": f"10133{number:03d}", "name": f"Приміщення ФАП, {village}", "type": "premises",
               "address": f"{village}, вул. Садова, {number}", "balance_holder_unit_id": unit_ids["social"],
               "use": "медичне обслуговування", "area_m2": float(rng.randint(60, 160)),
               "condition": rng.choice(["good", "fair"])}
        if number % 4 == 1:  # part of the ФАП building leased to a pharmacy chain (a legal entity)
            fap.update(tenant_kind="legal_entity", tenant_organisation="ТОВ «Аптека-Поділля» (демо)",
                       lease_start=dt.date(2024, 3, 1), lease_end=dt.date(2029, 2, 28),
                       rent_uah_month=float(rng.randint(1800, 4200)), documents="Договір оренди № 14/24 (демо)")
        elif number % 4 == 2:  # leased to a sole trader: a natural person, so the name is staff-only
            fap.update(tenant_kind="individual", tenant_person=f"ФОП Петренко О. ({village}, демо)",
                       lease_start=dt.date(2025, 1, 1), lease_end=dt.date(2027, 12, 31),
                       rent_uah_month=float(rng.randint(900, 2500)), documents="Договір оренди № 3/25 (демо)")
        add(village, "fap", **fap)
        add(village, "network", inventory_number=f"10140{number:03d}", name=f"Водопровідна мережа, {village}",
            type="network", address=village, balance_holder_unit_id=unit_ids["kp_blagoustrij"], use="водопостачання",
            condition=rng.choice(["fair", "poor", "emergency"]))
    return rows


def load_demo_property(conn: sa.Connection, hromada_id: int, centres: dict[str, Point],
                       unit_ids: dict[str, int]) -> None:
    """Make the hromada's demo property exactly the generated rows (a second run changes nothing)."""
    sync_demo_rows(conn, build_table(COMMUNAL_PROPERTY), hromada_id, property_rows(hromada_id, centres, unit_ids))
