"""Cultural heritage: the saved-mapping import of the real protected-areas file, e-routes, photos."""
import io
import json
import re

import gpxpy
import pyproj
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image

from gis.errors import Conflict, InvalidInput, NotFound
from importers import saved_mappings
from importers.pipeline import ImportOptions, import_file
from layers import eroutes, heritage
from layers.registry import get_layer
from tests.conftest import UKRAINE

PROTECTED = UKRAINE / "vinnytska_protected_areas.geojson"
GEOD = pyproj.Geod(ellps="WGS84")


def dms(text: str) -> float:
    """N 48°40'31" → 48.675…, by hand (independent of the importer's parser)."""
    d, m, s = (int(x) for x in re.findall(r"\d+", text))
    return d + m / 60 + s / 3600


def import_protected(engine, **kw):
    layer = get_layer("heritage_objects")
    options = saved_mappings.apply(saved_mappings.load_mapping("vinnytska_protected_areas"), layer,
                                   ImportOptions(progress=False, **kw))
    return import_file(engine, layer, PROTECTED, options)


def test_saved_mapping_imports_the_garden_art_parks_only(clean_db):
    source = json.loads(PROTECTED.read_text(encoding="utf-8"))
    kinds = [re.sub(r"\s+", " ", f["properties"]["Вид географічного об'єкту"]) for f in source["features"]]
    parks = kinds.count("парк-пам'ятка садово-паркового мистецтва")
    assert len(kinds) == 285 and parks == 35

    report = import_protected(clean_db)
    assert (report.read, report.accepted, report.inserted, report.rejected, report.skipped) == (35, 35, 35, 0, 250)
    assert report.field_map["significance"] == "Адміністративний статус"
    assert "skipped by the mapping 250" in report.summary("en")
    with clean_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT significance, count(*) FROM heritage_object GROUP BY 1")).all()
        assert dict(rows) == {"national": 11, "local": 24}
        park = conn.execute(sa.text("""
            SELECT register_no, name_uk, name_en, significance, types, condition, ST_X(geom) AS lon, ST_Y(geom) AS lat,
                   raw FROM heritage_object WHERE register_no = 'П-101'""")).mappings().one()
    assert park["name_uk"] == "Немерчанський парк" and park["name_en"] == "Nemerchanskyi park"
    assert park["significance"] == "national" and park["types"] == ["garden_park_art"]
    assert park["condition"] == "unknown"
    # N 48°40'31" E 27°43'21", as the register writes it (kept in raw): within a metre
    assert park["raw"]["Широта"] == "N 48°40'31\"" and park["raw"]["Довгота"] == "E 27°43'21\""
    _, _, off = GEOD.inv(park["lon"], park["lat"], dms(park["raw"]["Довгота"]), dms(park["raw"]["Широта"]))
    assert off < 1.0
    assert park["lat"] == pytest.approx(48 + 40 / 60 + 31 / 3600, abs=1e-7)
    assert park["lon"] == pytest.approx(27 + 43 / 60 + 21 / 3600, abs=1e-7)


def test_register_numbers_are_kept_exactly_as_given(clean_db):
    import_protected(clean_db)
    source = json.loads(PROTECTED.read_text(encoding="utf-8"))
    wanted = {f["properties"]["Реєстраційний номер"] for f in source["features"]
              if "садово" in f["properties"]["Вид географічного об'єкту"]}
    with clean_db.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT register_no FROM heritage_object")).scalars())
    assert stored == wanted


def test_saved_mapping_refuses_another_layer_and_unknown_names(clean_db):
    mapping = saved_mappings.load_mapping("vinnytska_protected_areas")
    with pytest.raises(InvalidInput, match="heritage_objects"):
        saved_mappings.apply(mapping, get_layer("protected_areas"), ImportOptions())
    for name in ("no_such_mapping", "../pyproject"):
        with pytest.raises(InvalidInput, match="vinnytska_protected_areas"):
            saved_mappings.load_mapping(name)


def test_import_cli_takes_a_saved_mapping(clean_db, database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["import", "heritage_objects", str(PROTECTED), "--mapping",
                                       "vinnytska_protected_areas", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "прийнято 35" in result.output and "пропущено за зіставленням 250" in result.output
    result = CliRunner().invoke(main, ["import", "protected_areas", str(PROTECTED), "--mapping",
                                       "vinnytska_protected_areas"])
    assert (result.exit_code == 1
            and "Saved mapping vinnytska_protected_areas is for layer heritage_objects" in result.output)


def test_types_and_seasons_are_checked():
    assert heritage.check_types(["history", "архітектури та містобудування", "History"]) == ["history", "architecture"]
    assert heritage.check_seasons("winter, Весна") == ["winter", "spring"]
    with pytest.raises(InvalidInput, match="pottery"):
        heritage.check_types(["history", "pottery"])


# --- e-routes ---------------------------------------------------------------------------------------

KATOTTG = "UA05020310000080026"


def route_data(**over):
    data = {"code": "test-route", "hromada": KATOTTG, "title": {"uk": "Тест", "en": "Test"},
            "stops": [{"lon": 28.30, "lat": 49.25, "name": {"uk": "Старт", "en": "Start"}},
                      {"lon": 28.35, "lat": 49.26, "name": "Середина", "description": {"uk": "Опис <b>2</b>"}},
                      {"lon": 28.33, "lat": 49.22, "name": "Фініш"}]}
    data.update(over)
    return data


def test_route_length_and_times_agree_with_an_independent_geodesic(demo_db):
    with demo_db.begin() as conn:
        eroutes.create_route(conn, eroutes.parse_route(route_data()))
        summary = eroutes.route_summary(conn, "test-route")
    points = [(28.30, 49.25), (28.35, 49.26), (28.33, 49.22)]
    legs = [GEOD.inv(*a, *b)[2] for a, b in zip(points, points[1:], strict=False)]
    assert summary["length_m"] == pytest.approx(sum(legs), abs=0.5)
    assert [s["leg_m"] for s in summary["stops"]] == pytest.approx([0, *legs], abs=0.5)
    assert summary["stops"][-1]["from_start_m"] == pytest.approx(sum(legs), abs=0.5)
    assert [s["name_uk"] for s in summary["stops"]] == ["Старт", "Середина", "Фініш"]
    # 4.5 km/h and 15 km/h, whole minutes rounded up
    assert summary["walking_min"] == -(-sum(legs) // (4500 / 60))
    assert summary["cycling_min"] == -(-sum(legs) // (15000 / 60))
    assert 8000 < sum(legs) < 9000 and summary["walking_min"] > summary["cycling_min"] > 0


def test_route_stops_can_be_heritage_objects_and_follow_them(demo_db):
    with demo_db.begin() as conn:
        obj_id, lon, lat = conn.execute(sa.text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM heritage_object WHERE name_uk LIKE 'Курган%'")).one()
        conn.execute(sa.text("UPDATE heritage_object SET register_no = '05-Вн/1' WHERE id = :id"), {"id": obj_id})
        data = route_data(stops=[{"object": obj_id}, {"register_no": "05-Вн/1", "name": "Знову курган"},
                                 {"lon": 28.3, "lat": 49.2, "name": "Точка"}])
        eroutes.create_route(conn, eroutes.parse_route(data))
        stops = eroutes.route_summary(conn, "test-route")["stops"]
        assert [s["object_id"] for s in stops] == [obj_id, obj_id, None]
        assert stops[0]["name_uk"] == "Курган (демо)" and stops[1]["name_uk"] == "Знову курган"
        assert (stops[0]["lon"], stops[0]["lat"]) == pytest.approx((lon, lat))
        # moving the object moves the stop; deleting it is refused while a route uses it
        conn.execute(sa.text("UPDATE heritage_object SET geom = ST_SetSRID(ST_MakePoint(28.2, 49.2), 4326) "
                             "WHERE id = :id"), {"id": obj_id})
        assert eroutes.route_summary(conn, "test-route")["stops"][0]["lon"] == pytest.approx(28.2)
    with pytest.raises(sa.exc.IntegrityError):
        with demo_db.begin() as conn:
            conn.execute(sa.text("DELETE FROM heritage_object WHERE id = :id"), {"id": obj_id})


def test_route_update_replaces_stops_and_create_refuses_a_taken_code(demo_db):
    with demo_db.begin() as conn:
        eroutes.create_route(conn, eroutes.parse_route(route_data()))
        with pytest.raises(Conflict):
            eroutes.create_route(conn, eroutes.parse_route(route_data()))
        eroutes.update_route(conn, eroutes.parse_route(route_data(stops=route_data()["stops"][:2])))
        assert len(eroutes.route_summary(conn, "test-route")["stops"]) == 2
        with pytest.raises(NotFound):
            eroutes.update_route(conn, eroutes.parse_route(route_data(code="other")))
        eroutes.delete_route(conn, "test-route")
        with pytest.raises(NotFound):
            eroutes.route_summary(conn, "test-route")


@pytest.mark.parametrize("change, words", [
    ({"code": "Bad Code"}, "lowercase"),
    ({"hromada": "UA123"}, "KATOTTG"),
    ({"title": None}, "title"),
    ({"modes": ["flying"]}, "modes"),
    ({"stops": [{"lon": 28.3, "lat": 49.2, "name": "одна"}]}, "at least two"),
    ({"stops": [{"lon": 28.3, "lat": 149.2, "name": "a"}, {"lon": 28.3, "lat": 49.2, "name": "b"}]}, "stop 1"),
    ({"stops": [{"lon": 28.3, "lat": 49.2, "name": "a"}, {"lon": 28.3, "lat": 49.2}]},
     "stop 2: a free point needs a name"),
    ({"stops": [{"object": 1, "lon": 28.3, "lat": 49.2}, {"object": 2}]}, "exactly one"),
    ({"stops": [{"object": "x"}, {"object": 2}]}, "must be a number"),
])
def test_bad_route_files_are_refused_with_the_reason(change, words):
    with pytest.raises(InvalidInput) as info:
        eroutes.parse_route(route_data(**change))
    assert words in info.value.en and info.value.uk


@pytest.mark.parametrize("change, words", [
    ({"stops": [{"lon": 28.3, "lat": 49.2, "name": "a"}, {"object": 999999}]}, "stop 2"),
    ({"stops": [{"register_no": "П-0"}, {"object": 999999}]}, "П-0"),
    ({"hromada": "UA99999999999999999"}, "UA99"),
])
def test_unknown_objects_and_hromadas_are_404_and_nothing_is_written(demo_db, change, words):
    with pytest.raises(NotFound, match=words):
        with demo_db.begin() as conn:
            eroutes.create_route(conn, eroutes.parse_route(route_data(**change)))
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM e_route WHERE code = 'test-route'")).scalar() == 0


def test_gpx_has_the_stops_as_waypoints_and_the_line_in_order(demo_db):
    with demo_db.begin() as conn:
        eroutes.create_route(conn, eroutes.parse_route(route_data()))
        gpx = gpxpy.parse(eroutes.route_gpx(conn, "test-route", lang="en", url="http://x/routes/test-route"))
        geo = eroutes.route_geojson(conn, "test-route", lang="en")
    assert gpx.name == "Test" and gpx.link == "http://x/routes/test-route"
    assert [w.name for w in gpx.waypoints] == ["1. Start", "2. Середина", "3. Фініш"]
    assert gpx.waypoints[1].description == "Опис <b>2</b>"
    track = [c for p in gpx.tracks[0].segments[0].points for c in (p.longitude, p.latitude)]
    assert track == pytest.approx([28.30, 49.25, 28.35, 49.26, 28.33, 49.22])
    assert [c for p in gpx.routes[0].points for c in (p.longitude, p.latitude)] == pytest.approx(track)
    line, *points = geo["features"]
    assert [c for xy in line["geometry"]["coordinates"] for c in xy] == pytest.approx(track)
    assert [p["properties"]["position"] for p in points] == [1, 2, 3]


def test_demo_has_objects_living_heritage_and_a_route_all_flagged(demo_db):
    from importers.demo import load_demo
    from tests.conftest import SHARED_DATA

    load_demo(demo_db, SHARED_DATA)  # idempotent
    with demo_db.connect() as conn:
        counts = conn.execute(sa.text("""SELECT (SELECT count(*) FROM heritage_object), """
                                      """(SELECT bool_and(is_demo) FROM heritage_object),
                                                (SELECT count(*) FROM cultural_potential), """
                                      """(SELECT bool_and(is_demo) FROM cultural_potential),
                                                (SELECT count(*) FROM e_route), """
                                      """(SELECT bool_and(is_demo) FROM e_route)""")).one()
        assert tuple(counts) == (4, True, 4, True, 1, True)
        assert conn.execute(
            sa.text("SELECT count(*) FROM heritage_object WHERE jsonb_typeof(types) = 'array'")).scalar() == 4
        assert conn.execute(sa.text("SELECT count(*) FROM cultural_potential WHERE seasons ? 'winter'")).scalar() == 1
        names = conn.execute(sa.text("SELECT name_uk FROM cultural_potential")).scalars().all()
        assert any("Живий вогонь" in n for n in names)
        summary = eroutes.route_summary(conn, "kylymnyk-demo")
    assert len(summary["stops"]) == 5 and summary["stops"][0]["object_id"] is None
    assert all(s["object_id"] for s in summary["stops"][1:])


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (120, 90, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (49.0, 15.0, 30.0), 3: "E", 4: (28.0, 22.0, 1.0)}  # GPSInfo
    exif[0x010F] = "CameraMaker"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_photos_are_stored_without_exif(demo_db):
    data = _jpeg_with_gps()
    assert b"CameraMaker" in data
    with demo_db.begin() as conn:
        obj_id = conn.execute(sa.text("SELECT min(id) FROM heritage_object")).scalar()
        photo_id = heritage.add_photo(conn, obj_id, data, caption="Вигляд з півдня")
        stored = heritage.photo_bytes(conn, photo_id)
        assert heritage.heritage_object(conn, obj_id)["photos"][0]["caption"] == "Вигляд з півдня"
        with pytest.raises(InvalidInput):
            heritage.add_photo(conn, obj_id, b"not an image")
        with pytest.raises(NotFound):
            heritage.add_photo(conn, 999999, data)
    assert b"CameraMaker" not in stored and not Image.open(io.BytesIO(stored)).getexif()
