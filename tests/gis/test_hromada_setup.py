"""The set-up core (gis.hromada_setup): every write validated, audited, and a no-op when nothing changes;
derived areas of districts and villages; warnings; the routing preview."""
import pytest
import shapely
import sqlalchemy as sa

from gis import hromada_setup as setup
from gis import hromadas
from gis.audit import By, entries
from gis.config import DEMO_KATOTTG
from gis.errors import Conflict, InvalidInput, NotFound, Unprocessable
from importers.communities import load_communities, load_settlements
from tests.conftest import UKRAINE
from tests.helpers import STRYZHAVKA, inside, load_neighbours, scalar

ADMIN = By("admin@example.org")
HOUSING = {"code": "housing", "name_uk": "Відділ ЖКГ", "name_en": "Housing", "kind": "department",
           "emails": ["housing@example.org"]}


@pytest.fixture
def fresh(clean_db):
    """The demo hromada's boundary and villages, and nothing of its set-up: (engine, hromada id)."""
    load_communities(clean_db, UKRAINE / "yakushynetska_boundary.geojson", katottg=[DEMO_KATOTTG])
    load_settlements(clean_db, UKRAINE / "yakushynetska_settlements.geojson")
    return clean_db, scalar(clean_db, "SELECT id FROM hromada WHERE katottg = :k", k=DEMO_KATOTTG)


def write(engine, fn, *args, **kwargs):
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def read(engine, fn, *args, **kwargs):
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def actions(engine, h) -> list[tuple[str, str]]:
    return [(e["action"], e["object"]) for e in reversed(read(engine, entries, h))]


def test_hromada_row_by_katottg_or_404(fresh):
    engine, h = fresh
    row = read(engine, hromadas.hromada_by_katottg, DEMO_KATOTTG)
    assert row["id"] == h and row["name_uk"] == "Якушинецька сільська громада"
    with pytest.raises(NotFound, match="UA00000000000000000"):
        read(engine, hromadas.hromada_by_katottg, "UA00000000000000000")


def test_units_are_saved_by_code_audited_and_a_repeat_writes_nothing(fresh):
    engine, h = fresh
    unit_id = write(engine, setup.save_unit, h, HOUSING, by=ADMIN)
    assert write(engine, setup.save_unit, h, HOUSING, by=ADMIN) == unit_id  # unchanged: no entry
    write(engine, setup.save_unit, h, {"code": "housing", "emails": ["a@example.org", "b@example.org"],
                                       "notify_mode": "digest"}, by=ADMIN)
    [u] = read(engine, setup.list_units, h)
    assert u == {"id": unit_id, "code": "housing", "name_uk": "Відділ ЖКГ", "name_en": "Housing", "kind": "department",
                 "emails": ["a@example.org", "b@example.org"], "phone": None, "has_accounts": True,
                 "notify_mode": "digest", "staff_count": 0}
    log = read(engine, entries, h)
    assert [(e["action"], e["actor"]) for e in reversed(log)] == [("unit.create", "admin@example.org"),
                                                                  ("unit.update", "admin@example.org")]
    assert log[0]["detail"] == {"emails": [["housing@example.org"], ["a@example.org", "b@example.org"]],
                                "notify_mode": ["each", "digest"]}


@pytest.mark.parametrize("data, field, words", [
    ({"code": "Відділ"}, "code", "only lower-case Latin"),
    ({"code": "x", "name_uk": " "}, "name_uk", "Ukrainian name is required"),
    ({"code": "x", "name_uk": "X", "kind": "ministry"}, "kind", "Unknown unit kind 'ministry'"),
    ({"code": "x", "name_uk": "X", "emails": ["not-an-address"]}, "emails", "Not a valid e-mail address"),
    ({"code": "x", "name_uk": "X", "has_accounts": False}, "emails", "by e-mail only"),
    ({"code": "x", "name_uk": "X", "notify_mode": "weekly"}, "notify_mode", "Unknown notify mode"),
    ({"code": "x", "name_uk": "X", "phone": "call me"}, "phone", "Not a valid phone number"),
])
def test_a_bad_unit_is_refused_naming_the_field_in_both_languages(fresh, data, field, words):
    engine, h = fresh
    with pytest.raises(InvalidInput, match=words) as err:
        write(engine, setup.save_unit, h, data, by=ADMIN)
    assert err.value.details["field"] == field and err.value.uk != err.value.en
    assert read(engine, setup.list_units, h) == [] and read(engine, entries, h) == []


def test_a_unit_with_reports_cannot_be_deleted_one_without_can(demo_db):
    from layers.reports import NewReport, create_report

    h = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=DEMO_KATOTTG)
    lon, lat = inside(demo_db, "Якушинці")
    write(demo_db, create_report, NewReport(lon, lat, "water_leak", "Тече труба"), public_url="http://x")
    with pytest.raises(Conflict, match="1 report"):
        write(demo_db, setup.delete_unit, h, "housing", by=ADMIN)
    write(demo_db, setup.delete_unit, h, "finance", by=ADMIN)
    assert "finance" not in {u["code"] for u in read(demo_db, setup.list_units, h)}
    assert actions(demo_db, h)[-1] == ("unit.delete", "finance")
    with pytest.raises(InvalidInput, match="no unit with code 'finance'"):
        write(demo_db, setup.delete_unit, h, "finance", by=ADMIN)


def test_settlement_cells_cover_the_hromada_without_overlaps_and_hold_each_village(fresh):
    engine, h = fresh
    cells = read(engine, setup.settlement_cells, h)
    assert len(cells) == 14
    boundary = shapely.from_wkb(bytes(scalar(engine, "SELECT ST_AsBinary(boundary) FROM hromada")))
    union = shapely.union_all(list(cells.values()))
    assert abs(union.area - boundary.area) / boundary.area < 1e-6
    assert sum(c.area for c in cells.values()) == pytest.approx(union.area, rel=1e-6)
    for sid, cell in cells.items():
        own = scalar(engine, "SELECT ST_AsBinary(boundary) FROM settlement WHERE id = :i", i=sid)
        if own is not None:
            village = shapely.from_wkb(bytes(own)).intersection(boundary)
            assert village.difference(cell).area < 1e-9 * boundary.area


def test_districts_group_villages_and_their_assignments_follow_when_villages_move(fresh):
    engine, h = fresh
    write(engine, setup.save_unit, h, HOUSING, by=ADMIN)
    write(engine, setup.save_unit, h, {"code": "sd_north", "name_uk": "Північ", "kind": "starosta_district",
                                       "emails": ["n@example.org"]}, by=ADMIN)
    ids = {s["name_uk"]: s["id"] for s in read(engine, setup.list_settlements, h)}
    # Names or ids, as the console's form sends them.
    write(engine, setup.save_district, h, {"code": "north", "name_uk": "Північний округ",
                                           "settlements": ["Зарванці", str(ids["Березина"])]}, by=ADMIN)
    write(engine, setup.add_assignment, h, {"category": "fallen_tree", "unit": "sd_north", "scope": "district",
                                            "district": "north"}, by=ADMIN)
    area = lambda: scalar(engine, "SELECT ST_Area(area::geography) FROM unit_category")  # noqa: E731
    before = area()
    assert read(engine, setup.list_districts, h) == [{"id": 1, "code": "north", "name_uk": "Північний округ",
                                                      "name_en": None, "settlements": ["Березина", "Зарванці"]}]
    # The unit's service area (the map layer of units) is its assignments' area.
    assert scalar(engine, "SELECT ST_Area(service_area::geography) FROM unit WHERE code = 'sd_north'") == \
        pytest.approx(before)
    # Moving Березина into another district shrinks the first district's assignment.
    write(engine, setup.save_district, h, {"code": "south", "name_uk": "Південний", "settlements": ["березина"]},
          by=ADMIN)
    assert area() < before
    assert {s["name_uk"]: s["district_code"] for s in read(engine, setup.list_settlements, h)}["Березина"] == "south"
    with pytest.raises(InvalidInput, match="No such villages in the hromada: Атлантида") as err:
        write(engine, setup.save_district, h, {"code": "north", "name_uk": "Пн", "settlements": ["Атлантида"]},
              by=ADMIN)
    assert err.value.details["field"] == "settlements"
    # Deleting a district deletes its assignments first, each recorded.
    write(engine, setup.delete_district, h, "north", by=ADMIN)
    assert read(engine, setup.list_assignments, h) == []
    assert actions(engine, h)[-3:] == [("district.create", "south"), ("assignment.delete", "fallen_tree → sd_north"),
                                       ("district.delete", "north")]


def square(lon, lat, d=0.01):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d],
                                                [lon, lat]]]}


def test_assignments_by_scope_with_words_duplicates_and_areas_checked(fresh):
    engine, h = fresh
    write(engine, setup.save_unit, h, HOUSING, by=ADMIN)
    write(engine, setup.save_district, h, {"code": "north", "name_uk": "Північний округ", "settlements": ["Зарванці"]},
          by=ADMIN)
    lon, lat = inside(engine, "Якушинці")
    made = [write(engine, setup.add_assignment, h, data, by=ADMIN) for data in (
        {"category": "pothole", "unit": "housing"},
        {"category": "fallen_tree", "unit": "housing", "scope": "district", "district": "north"},
        {"category": "fallen_tree", "unit": "housing", "scope": "villages", "villages": ["Лисянка", "Юзвин"]},
        {"category": "water_leak", "unit": "housing", "scope": "area", "area": square(lon - 0.005, lat - 0.005)},
    )]
    listed = {a["id"]: a for a in read(engine, setup.list_assignments, h)}
    assert [listed[i]["where_en"] for i in made][:3] == [
        "the whole hromada", "Північний округ (starosta district)", "villages: Лисянка, Юзвин"]
    assert listed[made[2]]["villages"] == ["Лисянка", "Юзвин"] and listed[made[0]]["area"] is None
    assert listed[made[3]]["area"]["type"] == "MultiPolygon" and listed[made[3]]["where_uk"].startswith("ділянка")
    assert (listed[made[1]]["category_name_en"] == "Fallen or dangerous tree"
            and listed[made[1]]["unit_code"] == "housing")
    assert scalar(engine, "SELECT count(*) FROM unit_category WHERE area IS NOT NULL") == 3
    # The same again is a conflict, whatever the scope.
    for data in ({"category": "pothole", "unit": "housing"},
                 {"category": "fallen_tree", "unit": "housing", "scope": "villages", "villages": ["Юзвин", "Лисянка"]},
                 {"category": "water_leak", "unit": "housing", "scope": "area",
                  "area": square(lon - 0.005, lat - 0.005)}):
        with pytest.raises(Conflict, match="exists already"):
            write(engine, setup.add_assignment, h, data, by=ADMIN)
    for data, field, words in (
            ({"category": "water_leak", "unit": "housing", "scope": "area", "area": square(30.5, 50.4)}, "area",
             "outside the hromada"),
            ({"category": "water_leak", "unit": "housing", "scope": "area", "area": {"type": "Point",
                                                                                     "coordinates": [28, 49]}},
             "area", "Polygon or MultiPolygon"),
            ({"category": "no_such", "unit": "housing"}, "category", "Unknown category"),
            ({"category": "pothole", "unit": "ghost"}, "unit", "no unit with code 'ghost'"),
            ({"category": "pothole", "unit": "housing", "scope": "district", "district": "south"}, "district",
             "no starosta district"),
            ({"category": "pothole", "unit": "housing", "scope": "villages", "villages": []}, "villages",
             "at least one village"),
            ({"category": "pothole", "unit": "housing", "scope": "street"}, "scope", "Unknown scope")):
        with pytest.raises(InvalidInput, match=words) as err:
            write(engine, setup.add_assignment, h, data, by=ADMIN)
        assert err.value.details["field"] == field
    write(engine, setup.delete_assignment, h, made[0], by=ADMIN)
    with pytest.raises(NotFound):
        write(engine, setup.delete_assignment, h, made[0], by=ADMIN)
    assert [a for a, _ in actions(engine, h)].count("assignment.create") == 4
    assert actions(engine, h)[-1] == ("assignment.delete", "pothole → housing")


def test_categories_on_off_targets_and_local_ones(fresh):
    engine, h = fresh
    write(engine, setup.set_category, h, "no_signal", enabled=False, target_days=None, by=ADMIN)
    write(engine, setup.set_category, h, "pothole", enabled=True, target_days=7, by=ADMIN)
    write(engine, setup.set_category, h, "pothole", enabled=True, target_days=7, by=ADMIN)  # no change
    write(engine, setup.add_local_category, h, {"code": "snow_removal", "name_uk": "Неприбраний сніг",
                                                "name_en": "Snow not cleared", "target_days": 2}, by=ADMIN)
    cats = {c["code"]: c for c in read(engine, setup.list_categories, h)}
    assert cats["no_signal"]["enabled"] is False
    assert (cats["pothole"]["target_days"], cats["pothole"]["catalogue_target_days"]) == (7, 14)
    assert cats["snow_removal"]["local"] is True and cats["snow_removal"]["target_days"] == 2
    assert not cats["snow_removal"]["handled"]
    with pytest.raises(Conflict, match="exists"):
        write(engine, setup.add_local_category, h, {"code": "pothole", "name_uk": "Я", "name_en": "P"}, by=ADMIN)
    with pytest.raises(InvalidInput, match="from 1 to 365") as err:
        write(engine, setup.set_category, h, "pothole", enabled=True, target_days=0, by=ADMIN)
    assert err.value.details["field"] == "target_days"
    # Back to the catalogue's settings: the row goes.
    write(engine, setup.set_category, h, "pothole", enabled=True, target_days=None, by=ADMIN)
    assert scalar(engine, "SELECT count(*) FROM hromada_category") == 1
    assert actions(engine, h) == [("category.update", "no_signal"), ("category.update", "pothole"),
                                  ("category.create", "snow_removal"), ("category.update", "pothole")]
    # Another hromada does not see the local category.
    load_neighbours(engine)
    other = scalar(engine, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    assert "snow_removal" not in {c["code"] for c in read(engine, setup.list_categories, other)}
    with pytest.raises(InvalidInput, match="Unknown category"):
        write(engine, setup.set_category, other, "snow_removal", enabled=False, target_days=None, by=ADMIN)


def test_asset_owners_and_the_default_unit(fresh):
    engine, h = fresh
    write(engine, setup.save_unit, h, HOUSING, by=ADMIN)
    write(engine, setup.set_asset_owner, h, "road_segment", "communal", "housing", by=ADMIN)
    write(engine, setup.set_asset_owner, h, "road_segment", "communal", "housing", by=ADMIN)
    [owner] = read(engine, setup.list_asset_owners, h)
    assert (owner["asset_kind"], owner["owner_class"], owner["unit_code"], owner["owner_en"]) == \
        ("road_segment", "communal", "housing", "hromada street")
    with pytest.raises(InvalidInput, match="Unknown owner class"):
        write(engine, setup.set_asset_owner, h, "road_segment", "private", "housing", by=ADMIN)
    with pytest.raises(InvalidInput, match="Unknown asset kind"):
        write(engine, setup.set_asset_owner, h, "bridge", "state", "housing", by=ADMIN)
    write(engine, setup.set_asset_owner, h, "road_segment", "communal", None, by=ADMIN)
    assert read(engine, setup.list_asset_owners, h) == []
    assert read(engine, setup.default_unit, h) is None
    write(engine, setup.set_default_unit, h, "housing", by=ADMIN)
    assert read(engine, setup.default_unit, h)["code"] == "housing"
    with pytest.raises(InvalidInput, match="ghost"):
        write(engine, setup.set_default_unit, h, "ghost", by=ADMIN)
    write(engine, setup.set_default_unit, h, None, by=ADMIN)
    assert actions(engine, h)[1:] == [("asset_owner.set", "road_segment/communal"),
                                      ("asset_owner.set", "road_segment/communal"),
                                      ("default_unit.set", "housing"), ("default_unit.set", None)]


def test_warnings_say_what_would_make_reports_go_astray_and_where(fresh):
    engine, h = fresh
    write(engine, setup.save_unit, h, {**HOUSING, "emails": []}, by=ADMIN)
    write(engine, setup.save_district, h, {"code": "north", "name_uk": "Північ", "settlements": ["Зарванці"]}, by=ADMIN)
    write(engine, setup.add_assignment, h, {"category": "fallen_tree", "unit": "housing", "scope": "district",
                                            "district": "north"}, by=ADMIN)
    found = read(engine, setup.warnings, h)
    texts = " | ".join(w["en"] for w in found)
    assert "does not take reports yet" in texts
    assert "No unit handles “Pothole” and there is no default unit" in texts
    partly = next(w for w in found if w["category"] == "fallen_tree")
    assert "in part of the hromada only" in partly["en"] and partly["where"]["type"] in ("Polygon", "MultiPolygon")
    assert "Villages in no starosta district: " in texts and "Якушинці" in texts
    assert "has no e-mail address" in texts
    assert all(w["uk"] and w["en"] and "section" in w for w in found)
    # A default unit covers what nobody handles.
    write(engine, setup.set_default_unit, h, "housing", by=ADMIN)
    assert not any(w["category"] for w in read(engine, setup.warnings, h))


def test_preview_routes_like_routing_even_before_the_hromada_goes_live(fresh):
    from gis.routing import route_report

    engine, h = fresh
    write(engine, setup.save_unit, h, HOUSING, by=ADMIN)
    write(engine, setup.add_assignment, h, {"category": "pothole", "unit": "housing"}, by=ADMIN)
    lon, lat = inside(engine, "Якушинці")
    result = read(engine, setup.preview_route, h, lon, lat, "pothole")
    assert result["unit"] == {"code": "housing", "name_uk": "Відділ ЖКГ", "name_en": "Housing"}
    assert result["rule"] == "default" and "Housing handles “Pothole”" in result["reason_en"]
    with pytest.raises(Unprocessable, match="does not take reports yet"):
        read(engine, route_report, lon, lat, "pothole")  # the real thing waits for the operator
    write(engine, setup.set_enabled, h, True, by=ADMIN)
    route = read(engine, route_report, lon, lat, "pothole")
    assert (route.rule, route.reason_en) == (result["rule"], result["reason_en"])
    with pytest.raises(Unprocessable, match="No unit handles"):
        read(engine, setup.preview_route, h, lon, lat, "water_leak")
    with pytest.raises(InvalidInput, match="outside"):
        read(engine, setup.preview_route, h, 30.52, 50.45, "pothole")
    assert actions(engine, h)[-1] == ("hromada.enable", DEMO_KATOTTG)


def test_a_write_that_fails_part_way_leaves_nothing(fresh):
    engine, h = fresh
    with pytest.raises(InvalidInput):
        with engine.begin() as conn:
            setup.save_unit(conn, h, HOUSING, by=ADMIN)
            setup.add_assignment(conn, h, {"category": "pothole", "unit": "nobody"}, by=ADMIN)
    assert read(engine, setup.list_units, h) == [] and read(engine, entries, h) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM unit_category")).scalar() == 0
