"""Demo land inventory for the demo hromada (issue #8), so the land pages and checks show something.

In each village two cadastral quarters of nine household plots (40 × 60 m, a 3 × 3 grid) near its
centre; about 70 % of them inventoried (the hromada reported 70 % on 4 April 2023), the share
varying from village to village. A few problems are made on purpose so the QA page lists them:
Якушинці's first quarter lacks its middle plot (a gap), a plot in Зарванці overlaps its neighbour,
two plots in Березина share a cadastral number, a field straddles the hromada's boundary, and
three plots have a declared area that does not match their drawing.

Cadastral numbers use KOATUU 0520688600 (the issue's example: the former Якушинецька council)
and, for Юзвин, its KOATUU 0520684203 from OpenStreetMap; zones, quarters, plots, owners, lessees
and values are invented (owners' names end in "(демо)"). Flagged ``is_demo``, source ``demo``.
Seeded and idempotent like the other demo loaders (``raw.demo_key``).
"""
from __future__ import annotations

import datetime as dt
import logging

import shapely
import sqlalchemy as sa
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, box
from shapely.ops import nearest_points

from gis.crs import metric_srid_for_hromada
from importers.demo_common import DEMO_SOURCE, demo_key, round_geometry, sync_demo_rows
from layers.land import PARCELS
from layers.tables import build_table

log = logging.getLogger(__name__)

KOATUU = "0520688600"
KOATUU_BY_VILLAGE = {"Юзвин": "0520684203"}
PLOT_W, PLOT_H = 40.0, 60.0  # metres
HOME = "Якушинці"
# Plots inventoried per village (of 18), in the villages' alphabetical order: 176 of 252 ≈ 70 %.
DONE_PER_VILLAGE = (18, 17, 16, 15, 14, 14, 13, 12, 12, 11, 10, 9, 8, 7)
OTHER_STATUSES = ("in_progress", "not_inventoried", "mismatch")
DONE_ON = dt.date(2023, 4, 4)
SURNAMES = ("Ковальчук", "Мельник", "Шевчук", "Бондаренко", "Ткачук", "Кравчук", "Олійник", "Поліщук", "Лисенко")
NAMES = ("Олена", "Петро", "Марія", "Іван", "Оксана", "Василь", "Галина", "Микола", "Наталія")
LESSEE = "ТОВ «Поділля-Агро» (демо)"
COUNCIL = "Якушинецька сільська рада"
VALUE_UAH_PER_HA = {"02.01": 290_000, "01.07": 48_000, "03.02": 310_000, "01.01": 31_000}


def _plot(i: int, seed: int) -> dict:
    """The facts of the i-th plot of a quarter (0–8): homesteads, a rented garden plot, a school's land."""
    if i == 8:
        return {"land_category": "residential_public", "purpose_code": "03.02", "ownership_form": "communal",
                "right_type": "permanent_use", "holder_kind": "community", "holder_entity": COUNCIL}
    if i == 6:
        return {"land_category": "agricultural", "purpose_code": "01.07", "ownership_form": "communal",
                "right_type": "lease", "holder_kind": "legal_entity", "holder_entity": LESSEE,
                "lease_end": dt.date(2031, 12, 31)}
    person = f"{SURNAMES[seed % len(SURNAMES)]} {NAMES[(seed * 5) % len(NAMES)]} (демо)"
    return {"land_category": "residential_public", "purpose_code": "02.01", "ownership_form": "private",
            "right_type": "ownership", "holder_kind": "natural_person", "holder_person": person,
            "restrictions": "охоронна зона ЛЕП 0,4 кВ (демо)" if i == 2 else None}


def parcel_rows(hromada_id: int, katottg: str, srid: int, boundary, centres: dict[str, Point],
                villages: dict[str, object]) -> list[dict]:
    """The demo parcels' rows (``geom`` a shapely MultiPolygon in EPSG:4326, ``raw.demo_key``)."""
    to_metric = Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True)
    to_wgs = Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    rows: list[dict] = []

    def add(geom_metric, number: str, facts: dict, status: str, declared_factor: float = 1.0):
        geom = round_geometry(MultiPolygon([shapely.transform(geom_metric, to_wgs.transform, interleaved=False)]))
        drawn_ha = shapely.transform(geom, to_metric.transform, interleaved=False).area / 10_000
        declared = round(drawn_ha * declared_factor, 4)
        value = VALUE_UAH_PER_HA.get(facts.get("purpose_code"))
        row = {"cadastral_number": number, "katottg": katottg, "area_declared_ha": declared, **facts,
               "normative_value_uah": round(declared * value, 2) if value else None,
               "inventory_status": status,
               "status_date": DONE_ON if status == "done" else dt.date(2025, 10, 1), "geom": geom}
        row["raw"] = {"demo_key": demo_key("parcel", {k: v for k, v in row.items() if k != "geom"}, geom.wkb_hex)}
        rows.append(dict(row, hromada_id=hromada_id, is_demo=True, source=DEMO_SOURCE))

    named = [v for v in sorted(villages) if v in centres]
    for zone, village in enumerate(named, start=1):
        cx, cy = to_metric.transform(centres[village].x, centres[village].y)
        koatuu = KOATUU_BY_VILLAGE.get(village, KOATUU)
        done = DONE_PER_VILLAGE[(zone - 1) % len(DONE_PER_VILLAGE)]
        turn = 0
        # Quarter 001 north-east of the centre, 002 south-west, 60 m away from it (the street).
        for quarter, (ox, oy) in enumerate(((cx + 60, cy + 60), (cx - 60 - 3 * PLOT_W, cy - 60 - 3 * PLOT_H)), 1):
            for i in range(9):
                if village == HOME and quarter == 1 and i == 4:
                    continue  # the gap: the middle plot is missing from the inventory
                col, row_ = i % 3, i // 3
                x0, y0 = ox + col * PLOT_W, oy + row_ * PLOT_H
                if village == "Зарванці" and quarter == 2 and i == 0:
                    x0 += 8  # the overlap: 8 m into its eastern neighbour
                number_i = i + 1
                if village == "Березина" and quarter == 1 and i == 8:
                    number_i = 8  # the duplicate: the same number as the plot before it
                number = f"{koatuu}:{zone:02d}:{quarter:03d}:{number_i:04d}"
                status = "done" if turn < done else OTHER_STATUSES[turn % len(OTHER_STATUSES)]
                factor = 1.0
                if (zone, quarter, i) in ((3, 1, 1), (5, 2, 3), (9, 1, 5)):
                    factor, status = 1.06, "mismatch"  # the paper says 6 % more than the drawing
                add(box(x0, y0, x0 + PLOT_W, y0 + PLOT_H), number, _plot(i, zone * 9 + i),
                    status, factor)
                turn += 1
    # A field straddling the hromada's boundary near its centre village: half of it outside.
    if HOME in centres:
        edge, _ = nearest_points(boundary.boundary, centres[HOME])
        ex, ey = to_metric.transform(edge.x, edge.y)
        add(box(ex - 100, ey - 100, ex + 100, ey + 100), f"{KOATUU}:50:001:0001",
            {"land_category": "agricultural", "purpose_code": "01.01", "ownership_form": "communal",
             "right_type": "lease", "holder_kind": "legal_entity", "holder_entity": LESSEE,
             "lease_end": dt.date(2030, 6, 30)}, "in_progress")
    return rows


def load_demo_land(conn: sa.Connection, hromada_id: int, centres: dict[str, Point],
                   villages: dict[str, object]) -> None:
    """Load (or bring up to date) the demo parcels of the hromada; a second run changes nothing.

    ``centres`` and ``villages`` are the villages' centre points and polygons (EPSG:4326) by name,
    as importers.demo has them; villages without a polygon get no plots.
    """
    katottg, boundary_wkb = conn.execute(sa.text("SELECT katottg, ST_AsBinary(boundary) FROM hromada WHERE id = :h"),
                                         {"h": hromada_id}).one()
    srid = metric_srid_for_hromada(conn, hromada_id)
    rows = parcel_rows(hromada_id, katottg, srid, shapely.from_wkb(bytes(boundary_wkb)), centres, villages)
    changed = sync_demo_rows(conn, build_table(PARCELS), hromada_id, rows)
    log.info("demo parcels of hromada %s: %d rows changed", hromada_id, changed)
