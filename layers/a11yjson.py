"""Accessible venues as A11yJSON (https://github.com/sozialhelden/a11yjson): a GeoJSON FeatureCollection
of ``PlaceInfo`` features, the exchange format of accessibility.cloud and Wheelmap.

Only public fields leave (``VENUES.public_fields``); the surveyor is an organisation and is not sent
(A11yJSON has no field for it). The mapping, field by field:

- name → ``properties.name`` ``{"uk": …}``; category → ``category`` (this layer's codes);
  address → ``address.text`` with ``countryCode`` ``UKR``; access_note → ``description``;
- entrance facts → ``accessibility.entrances[0]`` (the main entrance): ``isLevel``, ``stairs.count``
  and ``stairs.stepHeight``, ``hasFixedRamp``/``hasRemovableRamp`` (the latter left out with a fixed
  ramp, as the spec asks), ``door.width``, ``door.isAutomatic``. A11yJSON has no ramp object: a fixed
  ramp's slope goes into the entrance's ``slopeAngle`` (unit ``%``). It has no "there is a call
  button" flag either (``needsDoorbell`` means one must ring to get in), so ``doorbell`` is not sent;
- toilet → ``restrooms[0]``: ``isAccessibleWithWheelchair``, ``entrance.door.width``,
  ``turningSpaceInside``, ``hasSupportRails``;
- parking → ``parking.forWheelchairUsers`` (``count``, ``distanceToEntrance``; ``null`` for none);
- staff help → ``staff.hasFreeAssistantForVisitors``; sign language → ``staff.spokenLanguages``
  ``["ukl"]`` (Ukrainian Sign Language, ISO 639-3);
- induction loop → ``hasInductionLoop``; tactile paving and Braille → ``hasTactileGuideStrips`` and
  ``hasBrailleSignage`` and, in the current form, ``signageSystems[0]`` (``hasTactilePaving``,
  ``hasBraille``, ``hasAudio`` for audio information); visual information (displays, captions) →
  ``media[0]`` a screen with subtitles;
- the wheelchair rating → ``wheelchairAccessibilityGrade`` (fully / partially / not; unknown: left out).

Unknown facts are left out (A11yJSON: a missing property means unknown), never sent as false.
``tests/vendor/a11yjson-subset.schema.json`` is the schema the tests check this against.
"""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from gis import geojson
from layers.accessibility import VENUES
from layers.query import COORD_DECIMALS, table_of

GRADES = {"fully": "fully", "partially": "partially", "no": "not"}
UKRAINIAN_SIGN_LANGUAGE = "ukl"


def _quantity(value, unit: str) -> dict | None:
    if value is None:
        return None
    number = float(value)
    return {"value": int(number) if number.is_integer() else round(number, 1), "unit": unit}


def _known(**values) -> dict:
    """The values that are known: None (unknown) and empty objects are left out."""
    return {k: v for k, v in values.items() if v is not None and v != {}}


def _entrance(row: Mapping) -> dict:
    steps = 0 if row.get("entrance_level") else row.get("entrance_steps")
    ramp = row.get("ramp")
    level = None
    if steps is not None or ramp is not None:
        level = bool(steps == 0 and ramp in (None, "none"))
    stairs = _known(count=steps, stepHeight=_quantity(row.get("step_height_cm"), "cm")) if steps else None
    return _known(
        isLevel=level,
        stairs=stairs,
        hasFixedRamp=None if ramp is None else ramp == "fixed",
        hasRemovableRamp=None if ramp in (None, "fixed") else ramp == "removable",
        slopeAngle=_quantity(row.get("ramp_slope_percent"), "%") if ramp == "fixed" else None,
        door=_known(width=_quantity(row.get("door_width_cm"), "cm"), isAutomatic=row.get("door_automatic")),
    )


def _restroom(row: Mapping) -> dict:
    door = _known(width=_quantity(row.get("toilet_door_width_cm"), "cm"))
    return _known(isAccessibleWithWheelchair=row.get("toilet_accessible"),
                  entrance=_known(door=door) if door else None,
                  turningSpaceInside=_quantity(row.get("toilet_turning_cm"), "cm"),
                  hasSupportRails=row.get("toilet_grab_bars"))


def _parking(row: Mapping) -> dict | None:
    count = row.get("parking_count")
    if count is None:
        return None
    if count == 0:
        return {"forWheelchairUsers": None}  # A11yJSON: null means there is none
    return {"forWheelchairUsers": _known(count=count,
                                         distanceToEntrance=_quantity(row.get("parking_distance_m"), "m"))}


def venue_to_placeinfo(row: Mapping) -> dict:
    """One venue row (its public fields, ``id``, ``lon`` and ``lat``) as an A11yJSON ``PlaceInfo`` feature;
    a fact the row lacks (not public) counts as unknown."""
    entrance = _entrance(row)
    restroom = _restroom(row)
    staff = _known(hasFreeAssistantForVisitors=row.get("staff_assistance"),
                   spokenLanguages=[UKRAINIAN_SIGN_LANGUAGE] if row.get("sign_language") else None)
    signage = _known(hasTactilePaving=row.get("tactile_paving"), hasBraille=row.get("braille"),
                     hasAudio=row.get("audio_info"))
    accessibility = _known(
        wheelchairAccessibilityGrade=GRADES.get(row.get("rating_wheelchair")),
        entrances=[{"isMainEntrance": True, **entrance}] if entrance else None,
        restrooms=[restroom] if restroom else None,
        parking=_parking(row),
        staff=staff,
        hasInductionLoop=row.get("induction_loop"),
        hasTactileGuideStrips=row.get("tactile_paving"),
        hasBrailleSignage=row.get("braille"),
        signageSystems=[signage] if signage else None,
        media=[{"type": "screen", "hasSubtitles": True}] if row.get("visual_info") else None,
    )
    properties = _known(
        name={"uk": row["name"]},
        category=row["category"],
        address={"text": {"uk": row.get("address")}, "countryCode": "UKR"} if row.get("address") else None,
        description={"uk": row.get("access_note")} if row.get("access_note") else None,
        originalId=str(row["id"]),
        accessibility=accessibility,
    )
    return {"type": "Feature", "id": row["id"],
            "geometry": {"type": "Point", "coordinates": [round(row["lon"], COORD_DECIMALS),
                                                          round(row["lat"], COORD_DECIMALS)]},
            "properties": properties}


def venues_a11yjson(conn: sa.Connection, hromada_id: int | None = None) -> dict:
    """The venues (of one hromada, or all) as an A11yJSON FeatureCollection, ordered by id."""
    table = table_of(VENUES)
    query = sa.select(table.c.id, sa.func.ST_X(table.c.geom).label("lon"), sa.func.ST_Y(table.c.geom).label("lat"),
                      *[table.c[f.column_name].label(f.name) for f in VENUES.public_fields]).order_by(table.c.id)
    if hromada_id is not None:
        query = query.where(table.c.hromada_id == hromada_id)
    features = [venue_to_placeinfo(row) for row in conn.execute(query).mappings()]
    return geojson.collection(features, name=VENUES.name)
