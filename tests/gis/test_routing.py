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


def test_a_hromada_not_yet_enabled_takes_no_reports_and_once_enabled_routes_to_its_own_units(world):
    city_point = (28.468, 49.233)  # central Vinnytsia
    with pytest.raises(Unprocessable, match="does not take reports yet") as err:
        route(world, *city_point, "pothole")
    assert "ще не приймає звернень" in err.value.uk and err.value.http_status == 422
    with world.connect() as conn:
        hromada, categories = categories_at(conn, *city_point)
    assert hromada.katottg == VINNYTSIA_CITY and categories == []

    with world.begin() as conn:
        conn.execute(sa.text("INSERT INTO hromada_setup (hromada_id, enabled_at) "
                             "SELECT id, now() FROM hromada WHERE katottg = :k"), {"k": VINNYTSIA_CITY})
    with pytest.raises(Unprocessable, match="No unit handles"):
        route(world, *city_point, "pothole")
    with world.begin() as conn:
        conn.execute(sa.text("""
            WITH u AS (INSERT INTO unit (hromada_id, code, name_uk, kind)
                       SELECT id, 'roads', 'Департамент дорожнього господарства', 'department'
                       FROM hromada WHERE katottg = :k RETURNING id)
            INSERT INTO unit_category (unit_id, category_id)
            SELECT u.id, c.id FROM u, category c WHERE c.code = 'pothole'"""), {"k": VINNYTSIA_CITY})
    r = route(world, *city_point, "pothole")
    assert r.rule == "default" and r.hromada_code == VINNYTSIA_CITY
    assert r.unit_id == unit_id(world, "roads") != unit_id(world, "housing")
    with world.connect() as conn:
        assert [c.code for c in categories_at(conn, *city_point)[1]] == ["pothole"]
    stryzhavka = one(world, "SELECT ST_X(ST_PointOnSurface(boundary)), ST_Y(ST_PointOnSurface(boundary)) "
                            "FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with pytest.raises(Unprocessable, match="Stryzhavka"):
        route(world, stryzhavka[0], stryzhavka[1], "pothole")


def _set(engine, sql: str, **params):
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_a_category_turned_off_in_the_hromada_is_unknown_there_and_leaves_the_form(world):
    lon, lat = inside(world, "Якушинці")
    _set(world, """INSERT INTO hromada_category (hromada_id, category_id, enabled)
                   SELECT h.id, c.id, false FROM hromada h, category c
                   WHERE h.katottg = 'UA05020310000080026' AND c.code = 'water_leak'""")
    with pytest.raises(InvalidInput, match="Unknown category 'water_leak'"):
        route(world, lon, lat, "water_leak")
    with world.connect() as conn:
        codes = [c.code for c in categories_at(conn, lon, lat)[1]]
    assert "water_leak" not in codes and "overflowing_bin" in codes


def test_the_hromadas_target_time_overrides_the_catalogues(world):
    lon, lat = inside(world, "Якушинці")
    assert route(world, lon, lat, "water_leak").target_days == 2  # the catalogue's
    _set(world, """INSERT INTO hromada_category (hromada_id, category_id, target_days)
                   SELECT h.id, c.id, 1 FROM hromada h, category c
                   WHERE h.katottg = 'UA05020310000080026' AND c.code = 'water_leak'""")
    assert route(world, lon, lat, "water_leak").target_days == 1


def test_a_local_category_is_known_only_in_its_own_hromada(world):
    _set(world, """INSERT INTO category (code, name_uk, name_en, target_days, hromada_id)
                   SELECT 'snow_removal', 'Неприбраний сніг', 'Snow not cleared', 3, id FROM hromada
                   WHERE katottg = 'UA05020310000080026'""")
    _set(world, """INSERT INTO unit_category (unit_id, category_id)
                   SELECT u.id, c.id FROM unit u, category c WHERE u.code = 'housing' AND c.code = 'snow_removal'""")
    lon, lat = inside(world, "Якушинці")
    r = route(world, lon, lat, "snow_removal")
    assert r.unit_id == unit_id(world, "housing") and r.target_days == 3
    with world.connect() as conn:
        assert "snow_removal" in [c.code for c in categories_at(conn, lon, lat)[1]]
    _set(world, "INSERT INTO hromada_setup (hromada_id, enabled_at) SELECT id, now() FROM hromada WHERE katottg = :k",
         k=VINNYTSIA_CITY)
    with pytest.raises(InvalidInput, match="Unknown category 'snow_removal'"):
        route(world, 28.468, 49.233, "snow_removal")


def test_the_hromadas_default_unit_takes_what_no_rule_covers_and_says_so(world):
    lon, lat = inside(world, "Якушинці")
    _set(world, "DELETE FROM unit_category WHERE category_id = (SELECT id FROM category WHERE code = 'water_leak')")
    with pytest.raises(Unprocessable, match="No unit handles"):
        route(world, lon, lat, "water_leak")
    with world.connect() as conn:
        assert "water_leak" not in [c.code for c in categories_at(conn, lon, lat)[1]]
    _set(world, "UPDATE hromada_setup SET default_unit_id = (SELECT id FROM unit WHERE code = 'general')")
    r = route(world, lon, lat, "water_leak")
    assert r.rule == "default" and r.unit_id == unit_id(world, "general")
    assert "за замовчуванням — Загальний відділ" in r.reason_uk and "default unit, General Department" in r.reason_en
    with world.connect() as conn:
        assert "water_leak" in [c.code for c in categories_at(conn, lon, lat)[1]]
    # An assignment still comes first: bins in Zarvantsi go to its district, elsewhere to housing.
    assert route(world, *inside(world, "Зарванці"), "overflowing_bin").unit_id == unit_id(world, "sd_zarvantsi")
    assert route(world, lon, lat, "overflowing_bin").unit_id == unit_id(world, "housing")


def test_an_assignment_without_an_area_only_counts_when_it_is_for_the_whole_hromada(world):
    # A district's assignment whose district lost its villages has no area: it must not become the
    # hromada-wide one.
    lon, lat = inside(world, "Якушинці")
    _set(world, """UPDATE unit_category SET area = NULL
                   WHERE unit_id = (SELECT id FROM unit WHERE code = 'sd_zarvantsi')""")
    _set(world, """DELETE FROM unit_category WHERE scope = 'hromada'
                   AND category_id = (SELECT id FROM category WHERE code = 'overflowing_bin')""")
    with pytest.raises(Unprocessable, match="No unit handles"):
        route(world, lon, lat, "overflowing_bin")


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
