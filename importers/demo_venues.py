"""Demo accessible venues for the demo hromada, so the venue map, search and ratings show something.

In each village: the council or starosta office, a ФАП (an ambulatory in Якушинці), a pharmacy, a
shop, a school, a club with a library, and a bus stop; and a ЦНАП in Якушинці. Their measured facts
come from a small set of entrance and information patterns given out in turn, so every rating of
every need profile shows up (and every reason: one low step, a removable ramp, a steep ramp, a
narrow door, only an OSM tag, nothing known, …). Invented, flagged ``is_demo``, source ``demo``.

Seeded and idempotent: every row carries a key made from its content (``raw.demo_key``); a second
run finds them all and changes nothing (staff changes to demo venues stay), a changed generator
replaces only the rows that changed.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import random

import sqlalchemy as sa
from shapely.geometry import Point

from importers.demo_common import DEMO_SOURCE, demo_key, round_geometry, sync_demo_rows
from layers.accessibility import VENUES
from layers.tables import build_table

log = logging.getLogger(__name__)

SEED = 7  # issue #7
HOME = "Якушинці"  # the hromada's centre: the council, the ambulatory, the lyceum and the ЦНАП
SURVEYED_BY = "ГО «Рівний доступ» (демо)"  # an invented organisation: no surveyor's personal data
SURVEYED_ON = dt.date(2026, 4, 1)

# Entrance patterns: (name, facts); ranges are (low, high) drawn with the seeded generator and kept
# within the pattern's rating rule (layers.accessibility.WHEELCHAIR_RULES, WALKING_RULES).
ENTRANCES = (
    ("step_free", {"entrance_level": True, "entrance_steps": 0, "door_width_cm": (90, 110), "door_automatic": None}),
    ("gentle_ramp", {"entrance_steps": 3, "step_height_cm": (14, 17), "ramp": "fixed", "ramp_slope_percent": (5, 8),
                     "door_width_cm": (90, 100)}),
    ("one_low_step", {"entrance_steps": 1, "step_height_cm": (3, 7), "ramp": "none", "door_width_cm": (90, 100)}),
    ("removable_ramp", {"entrance_steps": 2, "step_height_cm": (15, 18), "ramp": "removable", "doorbell": True,
                        "door_width_cm": (90, 100)}),
    ("steep_ramp", {"entrance_steps": 4, "step_height_cm": (15, 17), "ramp": "fixed", "ramp_slope_percent": (9, 12),
                    "door_width_cm": (90, 100)}),
    ("narrow_door", {"entrance_level": True, "entrance_steps": 0, "door_width_cm": (75, 85)}),
    ("few_steps", {"entrance_steps": 3, "step_height_cm": (15, 18), "ramp": "none", "door_width_cm": (80, 95)}),
    ("many_steps", {"entrance_steps": 6, "step_height_cm": (15, 18), "ramp": "none", "door_width_cm": (85, 95)}),
    ("too_steep", {"entrance_steps": 3, "step_height_cm": (15, 17), "ramp": "fixed", "ramp_slope_percent": (13, 16),
                   "door_width_cm": (90, 100)}),
    ("door_too_narrow", {"entrance_level": True, "entrance_steps": 0, "door_width_cm": (60, 68)}),
    ("osm_limited", {"wheelchair_osm": "limited"}),
    ("osm_no", {"wheelchair_osm": "no"}),
    ("unknown", {}),
)
# Information for blind and deaf people, staff help.
INFORMATION = (
    ("full", {"tactile_paving": True, "braille": True, "audio_info": True, "staff_assistance": True,
              "induction_loop": True, "sign_language": True, "visual_info": True}),
    ("staff_and_screen", {"tactile_paving": False, "braille": False, "audio_info": False, "staff_assistance": True,
                          "induction_loop": False, "sign_language": False, "visual_info": True}),
    ("none", {"tactile_paving": False, "braille": False, "audio_info": False, "staff_assistance": False,
              "induction_loop": False, "sign_language": False, "visual_info": False}),
    ("unknown", {}),
    ("tactile_and_loop", {"tactile_paving": True, "staff_assistance": True, "induction_loop": True}),
)
# Kinds of venue in every village: (kind, category, name pattern, hours, has a toilet, has parking).
KINDS = (
    ("council", "government", "Старостинський округ, с. {v}", "Mo-Fr 08:00-17:00", True, True),
    ("medical", "medical", "ФАП с. {v}", "Mo-Fr 08:00-16:00", True, False),
    ("pharmacy", "pharmacy", "Аптека, с. {v}", "Mo-Sa 08:00-19:00", False, False),
    ("shop", "shop", "Магазин «Продукти», с. {v}", "Mo-Su 07:00-21:00", False, False),
    ("school", "school", "Гімназія с. {v}", "Mo-Fr 08:00-17:00", True, True),
    ("culture", "culture", "Клуб і бібліотека, с. {v}", "Tu-Sa 10:00-18:00", True, False),
    ("stop", "transport_stop", "Зупинка «{v}, центр»", None, False, False),
)
HOME_NAMES = {"council": "Якушинецька сільська рада",
              "medical": "Амбулаторія загальної практики — сімейної медицини, с. Якушинці",
              "school": "Якушинецький ліцей"}
CNAP = {"name": "ЦНАП Якушинецької сільської ради", "category": "administrative", "opening_hours": "Mo-Fr 08:00-20:00",
        "entrance": "step_free", "information": "full"}
# Bus stops are kerbside: level, one kerb step, or not surveyed.
STOP_ENTRANCES = ("step_free", "one_low_step", "unknown")
STREETS = ("вул. Центральна", "вул. Шевченка", "вул. Садова", "вул. Миру", "вул. Шкільна", "вул. Лесі Українки",
           "вул. Центральна")


def _facts(pattern: dict, rng: random.Random) -> dict:
    return {k: (round(rng.uniform(*v)) if isinstance(v, tuple) else v) for k, v in pattern.items()}


def _place(centre: Point, k: int, count: int) -> Point:
    """The k-th of ``count`` venues on a ring 150–250 m round the village centre."""
    angle = 2 * math.pi * k / count + 0.4
    radius = 0.0018 + 0.0006 * (k % 2)  # degrees of latitude; longitude scaled at 49° N
    return round_geometry(Point(centre.x + radius * math.cos(angle) / 0.656, centre.y + radius * math.sin(angle)))


def venue_rows(hromada_id: int, centres: dict[str, Point]) -> list[dict]:
    """The demo venues' rows (``geom`` a shapely point, ``raw.demo_key`` from their content)."""
    rng = random.Random(SEED)
    entrances, information = dict(ENTRANCES), dict(INFORMATION)
    rows, turn = [], 0
    villages = sorted(centres, key=lambda v: (v != HOME, v))  # the centre first: it shows the full range
    for number, village in enumerate(villages):
        kinds = [*KINDS, ("cnap",)] if village == HOME else list(KINDS)
        for k, kind in enumerate(kinds):
            code = kind[0]
            if code == "cnap":
                entrance, info, toilet, parking = CNAP["entrance"], CNAP["information"], True, True
                values = {"name": CNAP["name"], "category": CNAP["category"], "opening_hours": CNAP["opening_hours"]}
            else:
                _, category, pattern, hours, toilet, parking = kind
                if code == "stop":
                    entrance = STOP_ENTRANCES[number % len(STOP_ENTRANCES)]
                else:
                    entrance = ENTRANCES[turn % len(ENTRANCES)][0]
                    turn += 1
                info = INFORMATION[(number + k) % len(INFORMATION)][0]
                name = HOME_NAMES.get(code) if village == HOME else None
                values = {"name": name or pattern.format(v=village), "category": category, "opening_hours": hours}
            facts = {**_facts(entrances[entrance], rng), **information[info]}
            if code == "stop":
                facts = {f: v for f, v in facts.items() if not f.startswith("door")}  # no door at a stop
            if code == "cnap":
                facts["door_automatic"] = True
            if toilet and entrance not in ("unknown", "osm_limited", "osm_no"):
                good = entrance in ("step_free", "gentle_ramp") or rng.random() < 0.3
                facts.update(toilet_accessible=good, toilet_door_width_cm=rng.randint(90, 100) if good else
                             rng.randint(65, 80), toilet_turning_cm=150 if good else rng.choice([110, 120]),
                             toilet_grab_bars=good)
            if parking:
                facts.update(parking_count=rng.choice([0, 1, 2]), parking_distance_m=float(rng.randint(5, 60)))
            surveyed = entrance not in ("unknown", "osm_limited", "osm_no")
            row = {**values, **facts, "address": f"{STREETS[k % len(STREETS)]}, {rng.randint(1, 40)}, с. {village}",
                   "surveyed_on": SURVEYED_ON if surveyed else None, "surveyed_by": SURVEYED_BY if surveyed else None,
                   "access_note": ("Знімний пандус — натисніть кнопку виклику біля дверей"
                                   if entrance == "removable_ramp" else None),
                   "osm_id": None, "geom": _place(centres[village], k, len(kinds))}
            row["raw"] = {"demo_key": demo_key("venue", {f: v for f, v in row.items() if f != "geom"},
                                               row["geom"].wkb_hex)}
            rows.append(dict(row, hromada_id=hromada_id, is_demo=True, source=DEMO_SOURCE))
    return rows


def load_demo_venues(conn: sa.Connection, hromada_id: int, centres: dict[str, Point]) -> None:
    """Load (or bring up to date) the demo venues of the hromada; a second run changes nothing.

    ``centres`` are the villages' centre points (EPSG:4326) by name, as importers.demo has them.
    """
    changed = sync_demo_rows(conn, build_table(VENUES), hromada_id, venue_rows(hromada_id, centres))
    log.info("demo venues of hromada %s: %d rows changed", hromada_id, changed)
