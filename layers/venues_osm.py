"""How OpenStreetMap features become accessible venues (``hromada import venues extract.osm.pbf``).

Venues are named amenities, shops, health care, offices, museums and hotels, sports centres and
stops. Their OSM accessibility tags become the layer's measured facts: ``door:width`` (metres in OSM,
"0.9" or "90 cm") → ``door_width_cm``, ``entrance:step_count``/``step_count`` → ``entrance_steps``,
``step:height`` → ``step_height_cm``, ``ramp``/``ramp:wheelchair``/``ramp:portable`` → ``ramp``,
``ramp:incline`` → ``ramp_slope_percent``, ``automatic_door``/``door=automatic``, ``toilets:wheelchair``,
``tactile_paving``, ``hearing_loop``, ``braille``, ``wheelchair`` and the descriptions. Tags no field
takes stay in ``raw.osm_tags`` (and so do the ones a computed field read, with their original values).
Nothing here imports the layer: ``layers.accessibility`` puts :data:`VENUES_OSM` in its declaration.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

from layers.base import OsmSpec

# amenity=* → the layer's category code (layers.accessibility.CATEGORIES)
AMENITY = {
    "townhall": "government", "courthouse": "government", "police": "government", "fire_station": "government",
    "social_facility": "government", "public_building": "government",
    "hospital": "medical", "clinic": "medical", "doctors": "medical", "dentist": "medical",
    "pharmacy": "pharmacy",
    "school": "school", "kindergarten": "school", "childcare": "school", "college": "school", "university": "school",
    "library": "culture", "community_centre": "culture", "arts_centre": "culture", "theatre": "culture",
    "cinema": "culture",
    "bus_station": "transport_stop",
    "post_office": "post_bank", "bank": "post_bank", "atm": "post_bank", "bureau_de_change": "post_bank",
    "cafe": "food", "restaurant": "food", "fast_food": "food", "food_court": "food", "bar": "food", "pub": "food",
    "place_of_worship": "religious", "monastery": "religious",
    "marketplace": "shop", "toilets": "other", "veterinary": "other",
}
TOURISM = {"museum": "culture", "gallery": "culture", "information": "other", "hotel": "other",
           "guest_house": "other", "hostel": "other", "motel": "other"}
LEISURE = {"sports_centre": "sport", "stadium": "sport", "fitness_centre": "sport", "swimming_pool": "sport",
           "sports_hall": "sport"}
STOPS = {"highway": ("bus_stop",), "public_transport": ("platform", "station"), "railway": ("halt", "station")}
# Names that mark a ЦНАП (Центр надання адміністративних послуг), however it is tagged.
_ADMINISTRATIVE = re.compile(r"цнап|адміністративних послуг|administrative services", re.IGNORECASE)


def venue_category(tags: Mapping[str, str]) -> str:
    """The layer's category of an OSM feature; ``other`` when nothing more specific fits."""
    name = f"{tags.get('name:uk', '')} {tags.get('name', '')} {tags.get('official_name', '')}"
    if _ADMINISTRATIVE.search(name) or tags.get("government") == "public_service":
        return "administrative"
    amenity = tags.get("amenity")
    if amenity in AMENITY:
        return AMENITY[amenity]
    if "healthcare" in tags:
        return "pharmacy" if tags["healthcare"] == "pharmacy" else "medical"
    if tags.get("shop"):
        return "shop"
    if tags.get("office") == "government":
        return "government"
    if tags.get("leisure") in LEISURE:
        return LEISURE[tags["leisure"]]
    if tags.get("tourism") in TOURISM:
        return TOURISM[tags["tourism"]]
    if any(tags.get(k) in v for k, v in STOPS.items()):
        return "transport_stop"
    return "other"


def venue_address(tags: Mapping[str, str]) -> str | None:
    """``addr:street`` (or ``addr:place``) and ``addr:housenumber``, then ``addr:city``:
    "вулиця Шевченка, 12, Якушинці"; None without a street, place or number."""
    street = (tags.get("addr:street") or tags.get("addr:place") or "").strip()
    number = (tags.get("addr:housenumber") or "").strip()
    if not street and not number:
        return None
    city = (tags.get("addr:city") or "").strip()
    parts = [p for p in (street, number) if p]
    if city and city != street:
        parts.append(city)
    return ", ".join(parts)


_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*([a-zа-яіїє°%'\"]*)\s*$", re.IGNORECASE)


def _number_unit(value: str | None) -> tuple[float, str] | None:
    match = _NUMBER.match(value or "")
    if not match:
        return None
    return float(match.group(1).replace(",", ".")), match.group(2).lower()


def length_cm(value: str | None) -> float | None:
    """An OSM length as centimetres: metres by default ("0.9"), or with a unit ("90 cm", "900 mm",
    "0.9 m", "3'"). A bare number too big for metres (door:width=90) is taken as centimetres, and
    above 300 as millimetres: mappers do write them so. None for anything else ("wide")."""
    parsed = _number_unit(value)
    if parsed is None:
        return None
    number, unit = parsed
    if unit in ("", "m", "м"):
        cm = number * 100 if number <= 3 or unit else number
        if not unit and number > 300:
            cm = number / 10
    elif unit in ("cm", "см"):
        cm = number
    elif unit in ("mm", "мм"):
        cm = number / 10
    elif unit in ("'", "ft"):
        cm = number * 30.48
    elif unit in ('"', "in"):
        cm = number * 2.54
    else:
        return None
    return round(cm, 1) if cm > 0 else None


def slope_percent(value: str | None) -> float | None:
    """``ramp:incline``/``incline`` as a percentage: "8%", "4.5°", "1:12"; "up"/"down" say nothing."""
    text = (value or "").strip().replace(",", ".")
    ratio = re.match(r"^1\s*:\s*(\d+(?:\.\d+)?)$", text)
    if ratio:
        return round(100 / float(ratio.group(1)), 1) if float(ratio.group(1)) else None
    parsed = _number_unit(text)
    if parsed is None:
        return None
    number, unit = parsed
    if unit == "%":
        return abs(number)
    if unit in ("°", "deg") and abs(number) < 90:
        return round(abs(math.tan(math.radians(number))) * 100, 1)
    return None


def _first(tags: Mapping[str, str], *keys: str) -> str | None:
    return next((tags[k].strip() for k in keys if str(tags.get(k) or "").strip()), None)


def venue_ramp(tags: Mapping[str, str]) -> str | None:
    """fixed / removable / none from ``ramp``, ``ramp:wheelchair`` and ``ramp:portable``.

    A ramp a wheelchair cannot use (``ramp:wheelchair=no``, a stroller ramp) is none for the rating;
    a portable ramp, or ``ramp:wheelchair`` = removable/portable/on_request, is removable."""
    ramp, wheelchair = tags.get("ramp"), tags.get("ramp:wheelchair")
    if tags.get("ramp:portable") in ("yes", "on_request") or wheelchair in ("removable", "portable", "on_request",
                                                                               "mobile"):
        return "removable"
    if wheelchair == "no":
        return "none"
    if wheelchair in ("yes", "limited", "separate") or ramp in ("yes", "separate"):
        return "fixed"
    if ramp == "no":
        return "none"
    return None


def venue_door_automatic(tags: Mapping[str, str]) -> bool | None:
    """``automatic_door`` (yes, button, motion, continuous, … → yes; no → no) or ``door=automatic``."""
    value = tags.get("automatic_door")
    if value:
        return value != "no"
    return True if tags.get("door") == "automatic" else None


def _yes_no(*keys: str):
    """yes/designated → True, no → False, from the first of ``keys`` that is set."""
    def read(tags: Mapping[str, str]) -> bool | None:
        value = _first(tags, *keys)
        return {"yes": True, "designated": True, "no": False}.get((value or "").lower())
    return read


def venue_wheelchair(tags: Mapping[str, str]) -> str | None:
    value = (tags.get("wheelchair") or "").lower()
    return {"designated": "yes"}.get(value, value if value in ("yes", "limited", "no") else None)


def venue_access_note(tags: Mapping[str, str]) -> str | None:
    """The wheelchair description (Ukrainian first), then the blind and deaf ones."""
    notes = [_first(tags, f"{kind}:description:uk", f"{kind}:description") for kind in ("wheelchair", "blind", "deaf")]
    return "; ".join(n for n in notes if n) or None


VENUES_OSM = OsmSpec(
    key="amenity", values=tuple(AMENITY),
    also={"shop": (), "healthcare": (), "office": (), "tourism": tuple(TOURISM), "leisure": tuple(LEISURE), **STOPS},
    needs=("name", "name:uk"),
    tags={"name": ("name:uk", "name"), "address": ("addr:full",), "opening_hours": ("opening_hours",),
          "entrance_steps": ("entrance:step_count", "step_count"),
          "tactile_paving": ("tactile_paving",), "induction_loop": ("hearing_loop",), "braille": ("braille",)},
    computed={"category": venue_category, "address": venue_address,
              "door_width_cm": lambda t: length_cm(_first(t, "door:width", "entrance:width")),
              "step_height_cm": lambda t: length_cm(_first(t, "step:height", "entrance:step:height",
                                                           "door:threshold:height", "kerb:height")),
              "ramp": venue_ramp, "ramp_slope_percent": lambda t: slope_percent(_first(t, "ramp:incline")),
              "door_automatic": venue_door_automatic, "toilet_accessible": _yes_no("toilets:wheelchair"),
              "wheelchair_osm": venue_wheelchair, "access_note": venue_access_note},
)
