"""Issue #7: accessible venues exported as A11yJSON PlaceInfo features, checked against a JSON Schema.

A11yJSON (sozialhelden/a11yjson) publishes no JSON Schema — it validates with SimpleSchema in
TypeScript — so tests/vendor/a11yjson-subset.schema.json is hand-derived from its documentation
(see tests/vendor/README): every property name it lists, with types for the ones we emit.
"""
import copy
import json
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa

from layers.a11yjson import venue_to_placeinfo, venues_a11yjson
from layers.accessibility import VENUES
from tests.importers.test_demo_venues import DEMO, load

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "vendor" / "a11yjson-subset.schema.json")
                    .read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

EMPTY = {f.name: None for f in VENUES.public_fields}


def venue(**facts) -> dict:
    return {**EMPTY, "id": 7, "lon": 28.37012345678, "lat": 49.2601, "name": "Аптека", "category": "pharmacy",
            "rating_wheelchair": "unknown", **facts}


def test_demo_venues_as_a11yjson_match_the_schema(demo_db):
    hromada_id = load(demo_db)
    with demo_db.connect() as conn:
        collection = venues_a11yjson(conn, hromada_id)
        count = conn.execute(sa.text("SELECT count(*) FROM venue WHERE hromada_id = :h"), {"h": hromada_id}).scalar()
        assert venues_a11yjson(conn, hromada_id + 999)["features"] == []
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(collection)]
    assert errors == []
    assert len(collection["features"]) == count > 0
    grades = {f["properties"].get("accessibility", {}).get("wheelchairAccessibilityGrade")
              for f in collection["features"]}
    assert grades == {"fully", "partially", "not", None}  # unknown ratings are left out
    cnap = next(f for f in collection["features"] if f["properties"]["category"] == "administrative")
    access = cnap["properties"]["accessibility"]
    assert cnap["properties"]["name"] == {"uk": "ЦНАП Якушинецької сільської ради"}
    assert access["entrances"][0]["isLevel"] is True and access["entrances"][0]["door"]["isAutomatic"] is True
    assert access["hasInductionLoop"] is True and access["staff"]["spokenLanguages"] == ["ukl"]
    assert access["restrooms"][0]["isAccessibleWithWheelchair"] is True


def test_measured_facts_become_a11yjson_quantities():
    feature = venue(entrance_steps=1, step_height_cm=5.0, ramp="none", door_width_cm=80.0, door_automatic=False,
                    toilet_accessible=False, toilet_door_width_cm=70.0, parking_count=0, staff_assistance=True,
                    tactile_paving=False, audio_info=True, rating_wheelchair="partially", address="вул. Шевченка, 1",
                    access_note="Поріг біля дверей", surveyed_by="ГО «Рівний доступ»")
    assert VALIDATOR.is_valid({"type": "FeatureCollection", "features": [venue_to_placeinfo(feature)]})
    place = venue_to_placeinfo(feature)
    assert place["geometry"] == {"type": "Point", "coordinates": [28.3701235, 49.2601]}
    props = place["properties"]
    assert props["address"] == {"text": {"uk": "вул. Шевченка, 1"}, "countryCode": "UKR"}
    assert props["description"] == {"uk": "Поріг біля дверей"}
    assert "ГО «Рівний доступ»" not in json.dumps(place, ensure_ascii=False)  # A11yJSON has no field for it
    access = props["accessibility"]
    assert access["wheelchairAccessibilityGrade"] == "partially"
    assert access["entrances"] == [{"isMainEntrance": True, "isLevel": False, "hasFixedRamp": False,
                                    "hasRemovableRamp": False,
                                    "stairs": {"count": 1, "stepHeight": {"value": 5, "unit": "cm"}},
                                    "door": {"width": {"value": 80, "unit": "cm"}, "isAutomatic": False}}]
    assert access["restrooms"] == [{"isAccessibleWithWheelchair": False,
                                    "entrance": {"door": {"width": {"value": 70, "unit": "cm"}}}}]
    assert access["parking"] == {"forWheelchairUsers": None}  # none, not unknown
    assert access["staff"] == {"hasFreeAssistantForVisitors": True}
    assert access["signageSystems"] == [{"hasTactilePaving": False, "hasAudio": True}]
    assert "hasInductionLoop" not in access and "media" not in access  # unknown: left out, not false


def test_a_fixed_ramp_gives_its_slope_and_no_removable_ramp_flag():
    place = venue_to_placeinfo(venue(entrance_steps=3, ramp="fixed", ramp_slope_percent=10.5, rating_wheelchair="no"))
    entrance = place["properties"]["accessibility"]["entrances"][0]
    assert entrance["hasFixedRamp"] is True and "hasRemovableRamp" not in entrance
    assert entrance["slopeAngle"] == {"value": 10.5, "unit": "%"} and entrance["isLevel"] is False
    assert place["properties"]["accessibility"]["wheelchairAccessibilityGrade"] == "not"
    bare = venue_to_placeinfo(venue())
    assert bare["properties"] == {"name": {"uk": "Аптека"}, "category": "pharmacy", "originalId": "7"}


@pytest.mark.parametrize("mistake", [
    lambda p: p["accessibility"]["entrances"][0].update(hasRamp=True),  # not an A11yJSON name
    lambda p: p["accessibility"]["entrances"][0]["door"]["width"].update(value="90"),  # a number as text
    lambda p: p["accessibility"].update(wheelchairAccessibilityGrade="no"),  # it is "not"
    lambda p: p.update(name="Аптека"),  # a localized string is an object
    lambda p: p.pop("category"),  # required
])
def test_the_schema_catches_what_a11yjson_does_not_allow(mistake):
    place = venue_to_placeinfo(venue(entrance_level=True, door_width_cm=90.0, rating_wheelchair="fully"))
    broken = copy.deepcopy(place)
    mistake(broken["properties"])
    assert VALIDATOR.is_valid({"type": "FeatureCollection", "features": [place]})
    assert not VALIDATOR.is_valid({"type": "FeatureCollection", "features": [broken]})


def test_a11yjson_over_http(client, demo_db):
    load(demo_db)
    response = client.get(f"/api/venues.a11yjson?hromada={DEMO}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert VALIDATOR.is_valid(body) and len(body["features"]) > 0
    assert "Рівний доступ" not in response.get_data(as_text=True)  # the surveyor is not sent
    assert client.get("/api/venues.a11yjson").get_json()["features"] == body["features"]  # one hromada loaded
    missing = client.get("/api/venues.a11yjson?hromada=UA01020030000000000")
    assert missing.status_code in (400, 404)
