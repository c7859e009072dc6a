"""Ratings per need profile: each rule, unknown data, and the reason in words."""
import pytest
import sqlalchemy as sa

from layers.accessibility import RULES, ratings, reason_text

POINT = "ST_SetSRID(ST_MakePoint(28.36, 49.26), 4326)"


def rate(engine, **facts) -> dict:
    """Insert a venue with these facts and read its ratings back from the generated columns."""
    columns = ", ".join(["name", "category", "geom", *facts])
    values = ", ".join([":name", ":category", POINT, *[f":{k}" for k in facts]])
    with engine.begin() as conn:
        row = conn.execute(sa.text(f"INSERT INTO venue ({columns}) VALUES ({values}) RETURNING *"),
                           {"name": "Тест", "category": "pharmacy", **facts}).mappings().one()
    return dict(row)


WHEELCHAIR_CASES = [
    ({"entrance_level": True, "door_width_cm": 95}, "fully", "вхід без сходинок або з пологим пандусом"),
    ({"entrance_steps": 1, "step_height_cm": 5}, "partially", "один поріг 5 см без пандуса (до 7 см)"),
    ({"entrance_steps": 1, "step_height_cm": 7}, "partially", "один поріг 7 см без пандуса (до 7 см)"),
    ({"entrance_steps": 1, "step_height_cm": 12}, "no", "1 сходинка 12 см без пандуса"),
    ({"entrance_steps": 1}, "no", "1 сходинка (висоту не виміряно) без пандуса"),
    ({"entrance_steps": 3, "step_height_cm": 15, "ramp": "none"}, "no", "3 сходинки 15 см без пандуса"),
    ({"entrance_steps": 3, "ramp": "fixed", "ramp_slope_percent": 6}, "fully",
     "вхід без сходинок або з пологим пандусом"),
    ({"entrance_steps": 3, "ramp": "fixed", "ramp_slope_percent": 10}, "partially", "пандус крутий: 10 % (більше 8 %)"),
    ({"entrance_steps": 3, "ramp": "fixed", "ramp_slope_percent": 15}, "no", "пандус надто крутий: 15 % (більше 12 %)"),
    ({"entrance_steps": 2, "ramp": "removable"}, "partially", "знімний пандус — треба покликати персонал"),
    ({"entrance_level": True, "door_width_cm": 80}, "partially", "двері 80 см (норма — 90 см)"),
    ({"entrance_level": True, "door_width_cm": 65}, "no", "двері 65 см — візок не пройде (менше 70 см)"),
    ({"wheelchair_osm": "limited"}, "partially", "вхід не обстежено; за позначкою OpenStreetMap: обмежено"),
    ({"wheelchair_osm": "no"}, "no", "вхід не обстежено; за позначкою OpenStreetMap: ні"),
    ({}, "unknown", "про вхід нічого не відомо"),
]


@pytest.mark.parametrize("facts, rating, reason", WHEELCHAIR_CASES)
def test_wheelchair_rules(clean_db, facts, rating, reason):
    venue = rate(clean_db, **facts)
    assert (venue["rating_wheelchair"], reason_text(venue["reason_wheelchair"])) == (rating, reason)


@pytest.mark.parametrize("facts, rating, reason", [
    ({"entrance_steps": 0}, "fully", "вхід без сходинок або з пологим пандусом"),
    ({"entrance_steps": 2}, "partially", "2 сходинки без пандуса"),
    ({"entrance_steps": 5, "ramp": "none"}, "no", "5 сходинок без пандуса"),
    ({"entrance_steps": 5, "ramp": "removable"}, "fully", "вхід без сходинок або з пологим пандусом"),
    ({"wheelchair_osm": "yes"}, "fully", "вхід не обстежено; за позначкою OpenStreetMap: так"),
    ({}, "unknown", "про вхід нічого не відомо"),
])
def test_walking_aid_rules(clean_db, facts, rating, reason):
    venue = rate(clean_db, **facts)
    assert (venue["rating_walking"], reason_text(venue["reason_walking"])) == (rating, reason)


@pytest.mark.parametrize("facts, rating, reason", [
    ({"audio_info": True, "tactile_paving": True}, "fully", "є: тактильна плитка, звукова інформація"),
    ({"braille": True, "audio_info": False}, "partially", "є: шрифт Брайля"),
    ({"staff_assistance": True}, "partially", "є: допомога персоналу"),
    ({"tactile_paving": False, "braille": False, "audio_info": False, "staff_assistance": False}, "no",
     "немає ні тактильної плитки, ні Брайля, ні звукової інформації, ні допомоги"),
    ({"door_width_cm": 90}, "unknown", "даних немає"),
])
def test_blind_and_low_vision_rules(clean_db, facts, rating, reason):
    venue = rate(clean_db, **facts)
    assert (venue["rating_blind"], reason_text(venue["reason_blind"])) == (rating, reason)


@pytest.mark.parametrize("facts, rating, reason", [
    ({"visual_info": True, "induction_loop": True}, "fully", "є: індукційна петля, візуальна інформація"),
    ({"sign_language": True}, "partially", "є: жестова мова"),
    ({"induction_loop": False, "sign_language": False, "visual_info": False}, "no",
     "немає ні індукційної петлі, ні жестової мови, ні візуальної інформації"),
    ({}, "unknown", "даних немає"),
])
def test_deaf_and_hard_of_hearing_rules(clean_db, facts, rating, reason):
    venue = rate(clean_db, **facts)
    assert (venue["rating_deaf"], reason_text(venue["reason_deaf"])) == (rating, reason)


def test_ratings_follow_every_change_and_read_in_english(clean_db):
    venue = rate(clean_db, entrance_steps=2, step_height_cm=14)
    assert venue["rating_wheelchair"] == "no"
    with clean_db.begin() as conn:
        row = conn.execute(sa.text("UPDATE venue SET ramp = 'fixed', ramp_slope_percent = 5 WHERE id = :i "
                                   "RETURNING *"), {"i": venue["id"]}).mappings().one()
    assert row["rating_wheelchair"] == "fully"
    english = {r["profile"]: r for r in ratings(dict(row), "en")}
    assert english["wheelchair"]["rating_label"] == "fully accessible"
    assert english["blind"]["reason"] == "no data" and set(english) == set(RULES)
    assert reason_text("steps:2:14", "en") == "2 steps of 14 cm, no ramp"
