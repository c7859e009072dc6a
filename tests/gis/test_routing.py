"""Routing a report to the responsible unit: asset owner, smallest service area, hromada default."""
import pytest
import sqlalchemy as sa

from gis.errors import InvalidInput, Unprocessable
from gis.routing import categories_at, route_report
from tests.helpers import STRYZHAVKA, VINNYTSIA_CITY, asset_point, inside, load_neighbours, one, unit_id

METRE_LON = 1 / 72_800  # one metre of longitude at 49° N, in degrees


@pytest.fixture
def world(demo_db):
    load_neighbours(demo_db)
    return demo_db


def route(engine, lon, lat, category, asset_id=None):
    with engine.connect() as conn:
        return route_report(conn, lon, lat, category, asset_id)


def test_lamp_report_goes_to_the_lamps_owner_with_the_reason(world):
    lon, lat = asset_point(world, "street_lamp", "301")
    r = route(world, lon + 10 * METRE_LON, lat, "street_light_out")
    assert r.rule == "asset" and r.unit_id == unit_id(world, "kp_blagoustrij")
    assert r.reason_uk.startswith("Ліхтар №301 (за 10 м) обслуговує КП «Якушинціблагоустрій»")
    assert "Street lamp No. 301" in r.reason_en
    assert r.asset_id == one(world, "SELECT id FROM asset WHERE kind = 'street_lamp' AND ref = '301'")[0]


def test_an_asset_beyond_the_snap_distance_does_not_decide(world):
    lon, lat = asset_point(world, "street_lamp", "301")
    r = route(world, lon, lat + 0.0006, "street_light_out")  # ≈ 67 m north of the lamp row
    assert r.rule == "default" and r.asset_id is None


def test_pothole_on_a_state_road_goes_to_the_outside_body_and_on_a_village_street_to_the_hromada(world):
    lon, lat = asset_point(world, "road_segment", "M-DEMO")
    state = route(world, lon, lat + 0.00005, "pothole")
    assert state.rule == "asset" and state.unit_id == unit_id(world, "road_service")
    lon, lat = asset_point(world, "road_segment", "вул. Садова")
    street = route(world, lon, lat, "pothole")
    assert street.rule == "asset" and street.unit_id == unit_id(world, "housing")


def test_explicitly_attached_asset_wins_and_must_fit_the_category(world):
    lamp = one(world, "SELECT id, ST_X(geom), ST_Y(geom) FROM asset WHERE kind = 'street_lamp' AND ref = '101'")
    r = route(world, lamp[1] + 0.002, lamp[2], "street_light_out", asset_id=lamp[0])
    assert r.rule == "asset" and r.asset_id == lamp[0]
    with pytest.raises(InvalidInput, match="does not apply"):
        route(world, lamp[1], lamp[2], "pothole", asset_id=lamp[0])
    with pytest.raises(InvalidInput, match="not in this hromada"):
        route(world, lamp[1], lamp[2], "street_light_out", asset_id=999999)


def test_service_area_of_a_starosta_district_beats_the_hromada_default(world):
    lon, lat = inside(world, "Зарванці")
    r = route(world, lon, lat, "overflowing_bin")
    assert r.rule == "area" and r.unit_id == unit_id(world, "sd_zarvantsi")
    assert "Зарванецький старостинський округ" in r.reason_uk


def test_the_smallest_area_wins(world):
    # Give the housing department an explicit area for bins: the whole hromada. The district is smaller.
    with world.begin() as conn:
        conn.execute(sa.text("""UPDATE unit_category SET area = (SELECT boundary FROM hromada
                                 WHERE katottg = 'UA05020310000080026')
                                WHERE unit_id = (SELECT id FROM unit WHERE code = 'housing')
                                  AND category_id = (SELECT id FROM category WHERE code = 'overflowing_bin')"""))
    lon, lat = inside(world, "Зарванці")
    assert route(world, lon, lat, "overflowing_bin").unit_id == unit_id(world, "sd_zarvantsi")
    lon, lat = inside(world, "Якушинці")  # no starosta district here: the big area applies
    r = route(world, lon, lat, "overflowing_bin")
    assert r.rule == "area" and r.unit_id == unit_id(world, "housing")


def test_outside_any_district_the_hromada_default_decides(world):
    lon, lat = inside(world, "Якушинці")
    r = route(world, lon, lat, "overflowing_bin")
    assert r.rule == "default" and r.unit_id == unit_id(world, "housing")
    assert "відповідає за категорію «Переповнений смітник»" in r.reason_uk


def test_point_outside_every_hromada_is_422(world):
    with pytest.raises(Unprocessable) as err:
        route(world, 30.52, 50.45, "pothole")  # Kyiv: not served here
    assert err.value.http_status == 422 and "outside every hromada" in err.value.en


def test_swapped_coordinates_are_named(world):
    lon, lat = inside(world, "Якушинці")
    with pytest.raises(Unprocessable, match="look swapped"):
        route(world, lat, lon, "pothole")


def test_category_nobody_handles_in_a_neighbour_is_422_and_a_neighbours_unit_gets_its_own(world):
    city_point = (28.468, 49.233)  # central Vinnytsia
    with pytest.raises(Unprocessable, match="No unit handles"):
        route(world, *city_point, "pothole")
    with world.connect() as conn:
        hromada, categories = categories_at(conn, *city_point)
    assert hromada.katottg == VINNYTSIA_CITY and categories == []

    with world.begin() as conn:
        conn.execute(sa.text("""
            WITH u AS (INSERT INTO unit (hromada_id, code, name_uk, kind)
                       SELECT id, 'roads', 'Департамент дорожнього господарства', 'department'
                       FROM hromada WHERE katottg = :k RETURNING id)
            INSERT INTO unit_category (unit_id, category_id)
            SELECT u.id, c.id FROM u, category c WHERE c.code = 'pothole'"""), {"k": VINNYTSIA_CITY})
    r = route(world, *city_point, "pothole")
    assert r.rule == "default" and r.hromada_code == VINNYTSIA_CITY
    assert r.unit_id != unit_id(world, "housing")
    stryzhavka = one(world, "SELECT ST_X(ST_PointOnSurface(boundary)), ST_Y(ST_PointOnSurface(boundary)) "
                            "FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with pytest.raises(Unprocessable, match="Stryzhavka"):
        route(world, stryzhavka[0], stryzhavka[1], "pothole")


def test_unknown_category_and_bad_coordinates_are_400(world):
    lon, lat = inside(world, "Якушинці")
    with pytest.raises(InvalidInput, match="Unknown category"):
        route(world, lon, lat, "no_such")
    with pytest.raises(InvalidInput, match="out of range"):
        route(world, 200, lat, "pothole")
    with pytest.raises(InvalidInput, match="must be numbers"):
        route(world, "east", lat, "pothole")


def test_categories_at_a_point_follow_the_units_serving_it(world):
    lon, lat = inside(world, "Якушинці")
    with world.connect() as conn:
        hromada, categories = categories_at(conn, lon, lat)
    codes = [c.code for c in categories]
    assert hromada.name_uk == "Якушинецька сільська громада"
    assert {"pothole", "street_light_out", "overflowing_bin", "no_signal"} <= set(codes)
