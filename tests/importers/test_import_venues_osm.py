"""Issue #7: OpenStreetMap venues into the ``venues`` layer — measured facts from the accessibility tags,
ratings per need profile from them, and the tags no field takes kept in ``raw``."""
import pytest

from layers.accessibility import VENUES, reason_text
from layers.venues_osm import length_cm, slope_percent, venue_address, venue_category, venue_ramp
from tests.importers.test_import_ookla_osm import demo_id, rows, run

# In Якушинці (the demo hromada), around 28.37 E 49.26 N.
VENUE_NODES = [
    (1, 28.3701, 49.2601, {"amenity": "pharmacy", "name": "Аптека «Подорожник»", "door:width": "0.8",
                           "step_count": "1", "step:height": "0.05", "dispensing": "yes"}),
    (2, 28.3705, 49.2603, {"shop": "convenience", "name": "Magazyn", "name:uk": "Магазин «Колосок»",
                           "wheelchair": "yes", "addr:street": "вулиця Шевченка", "addr:housenumber": "12",
                           "addr:city": "Якушинці", "opening_hours": "Mo-Su 08:00-21:00", "payment:cash": "yes"}),
    (3, 28.3710, 49.2605, {"amenity": "townhall", "name": "ЦНАП Якушинецької громади", "ramp": "yes",
                           "ramp:incline": "10%", "automatic_door": "button", "door:width": "95 cm",
                           "toilets:wheelchair": "yes", "hearing_loop": "yes", "tactile_paving": "yes",
                           "braille": "no", "wheelchair:description": "Entrance from the yard",
                           "wheelchair:description:uk": "Вхід з подвір'я", "blind:description": "Є озвучення черги"}),
    (4, 28.3715, 49.2607, {"highway": "bus_stop", "name": "Якушинці, центр", "tactile_paving": "no"}),
    (5, 28.3720, 49.2609, {"amenity": "bench"}),  # not a venue
    (6, 28.3722, 49.2609, {"amenity": "cafe"}),  # a venue, but without a name
    (7, 28.3725, 49.2611, {"office": "company", "name": "ТОВ «Агро»", "ramp:wheelchair": "removable",
                           "entrance:step_count": "2", "door:width": "90"}),
    (8, 28.3730, 49.2612, {"amenity": "library", "name": "Публічна бібліотека", "tactile_paving": "incorrect",
                           "step_count": "0", "door:width": "0.8"}),
]
# A school mapped as a building outline, not a node (the multipolygons layer).
SCHOOL_CORNERS = [(11, 28.3740, 49.2600), (12, 28.3750, 49.2600), (13, 28.3750, 49.2606), (14, 28.3740, 49.2606)]
SCHOOL_WAY = (21, [11, 12, 13, 14, 11], {"building": "school", "amenity": "school", "name": "Якушинецький ліцей",
                                          "wheelchair": "limited"})


def write_venues(path):
    import osmium
    from osmium.osm.mutable import Node, Way

    writer = osmium.SimpleWriter(str(path))
    try:
        for i, x, y, tags in VENUE_NODES:
            writer.add_node(Node(id=i, location=(x, y), tags=tags, version=1))
        for i, x, y in SCHOOL_CORNERS:
            writer.add_node(Node(id=i, location=(x, y), tags={}, version=1))
        writer.add_way(Way(id=SCHOOL_WAY[0], nodes=SCHOOL_WAY[1], tags=SCHOOL_WAY[2], version=1))
    finally:
        writer.close()
    return path


VENUE_SQL = """SELECT osm_id, name, category, address, opening_hours, door_width_cm, entrance_steps, step_height_cm,
                      ramp, ramp_slope_percent, door_automatic, toilet_accessible, tactile_paving, induction_loop,
                      braille, wheelchair_osm, access_note, rating_wheelchair, reason_wheelchair, rating_walking,
                      rating_blind, rating_deaf, hromada_id, raw->'osm_tags' AS other
               FROM venue WHERE source = :source ORDER BY osm_id"""


def test_osm_venues_land_with_facts_ratings_and_raw(demo_db, tmp_path):
    pbf = write_venues(tmp_path / "venues.osm.pbf")
    report = run(demo_db, VENUES, pbf)
    assert (report.read, report.accepted, report.rejected) == (6, 6, 0)  # the bench and the nameless café skipped
    got = {r.osm_id: r for r in rows(demo_db, VENUE_SQL, source="venues.osm.pbf")}
    assert set(got) == {"1", "2", "3", "4", "7", "8"}
    assert {r.hromada_id for r in got.values()} == {demo_id(demo_db)}

    pharmacy = got["1"]  # door:width=0.8 m, one 5 cm step, no ramp
    assert (pharmacy.category, pharmacy.door_width_cm, pharmacy.entrance_steps, pharmacy.step_height_cm) == \
        ("pharmacy", 80.0, 1, 5.0)
    assert (pharmacy.rating_wheelchair, pharmacy.reason_wheelchair) == ("partially", "one_low_step:5")
    assert reason_text(pharmacy.reason_wheelchair) == "один поріг 5 см без пандуса (до 7 см)"
    assert pharmacy.rating_walking == "partially"
    assert pharmacy.other == {"amenity": "pharmacy", "dispensing": "yes", "door:width": "0.8", "step:height": "0.05"}

    shop = got["2"]
    assert (shop.name, shop.category, shop.address, shop.opening_hours) == \
        ("Магазин «Колосок»", "shop", "вулиця Шевченка, 12, Якушинці", "Mo-Su 08:00-21:00")
    assert (shop.wheelchair_osm, shop.rating_wheelchair, shop.reason_wheelchair) == ("yes", "fully", "osm:yes")
    assert shop.other["payment:cash"] == "yes" and shop.other["name"] == "Magazyn"  # unknown tags kept
    assert (shop.rating_blind, shop.rating_deaf) == ("unknown", "unknown")

    cnap = got["3"]
    assert (cnap.category, cnap.ramp, cnap.ramp_slope_percent, cnap.door_automatic, cnap.door_width_cm) == \
        ("administrative", "fixed", 10.0, True, 95.0)
    assert (cnap.rating_wheelchair, cnap.reason_wheelchair) == ("partially", "ramp_slope:10")
    assert (cnap.toilet_accessible, cnap.induction_loop, cnap.tactile_paving, cnap.braille) == (True, True, True, False)
    assert cnap.access_note == "Вхід з подвір'я; Є озвучення черги"
    assert (cnap.rating_blind, cnap.rating_deaf) == ("partially", "partially")

    stop = got["4"]
    assert (stop.category, stop.tactile_paving, stop.rating_blind, stop.rating_wheelchair) == \
        ("transport_stop", False, "no", "unknown")

    office = got["7"]  # two steps and a removable ramp; door:width=90 without a unit: centimetres
    assert (office.category, office.ramp, office.entrance_steps, office.door_width_cm) == \
        ("other", "removable", 2, 90.0)
    assert (office.rating_wheelchair, office.reason_wheelchair) == ("partially", "ramp_removable")

    library = got["8"]  # step-free, but an 80 cm door
    assert (library.rating_wheelchair, library.reason_wheelchair) == ("partially", "door_under_90:80")
    assert library.tactile_paving is None and library.other["tactile_paving"] == "incorrect"  # not yes/no: kept


def test_osm_buildings_with_an_amenity_import_as_points_inside(demo_db, tmp_path):
    pbf = write_venues(tmp_path / "venues.osm.pbf")
    report = run(demo_db, VENUES, pbf, source_layer="multipolygons")
    assert (report.accepted, report.rejected) == (1, 0)
    (school,) = rows(demo_db, "SELECT osm_id, name, category, wheelchair_osm, rating_wheelchair, "
                              "ST_GeometryType(geom) AS kind, ST_X(geom) AS lon, ST_Y(geom) AS lat "
                              "FROM venue WHERE source = 'venues.osm.pbf'")
    assert (school.osm_id, school.name, school.category, school.wheelchair_osm, school.rating_wheelchair,
            school.kind) == ("21", "Якушинецький ліцей", "school", "limited", "partially", "ST_Point")
    assert 28.3740 < school.lon < 28.3750 and 49.2600 < school.lat < 49.2606


def test_osm_venue_import_is_repeatable_by_osm_id(demo_db, tmp_path):
    pbf = write_venues(tmp_path / "venues.osm.pbf")
    run(demo_db, VENUES, pbf)
    again = run(demo_db, VENUES, pbf, upsert_key="osm_id")
    assert (again.inserted, again.updated) == (0, 6)


@pytest.mark.parametrize("value, cm", [("0.9", 90.0), ("0,85", 85.0), ("90 cm", 90.0), ("90", 90.0), ("900", 90.0),
                                       ("900 mm", 90.0), ("1 m", 100.0), ("wide", None), ("", None), (None, None)])
def test_osm_lengths_are_metres_unless_said(value, cm):
    assert length_cm(value) == cm


@pytest.mark.parametrize("value, percent", [("8%", 8.0), ("-6 %", 6.0), ("1:12", 8.3), ("5°", 8.7), ("up", None)])
def test_osm_ramp_incline_as_percent(value, percent):
    assert slope_percent(value) == percent


def test_osm_category_address_and_ramp_rules():
    assert venue_category({"amenity": "clinic"}) == "medical"
    assert venue_category({"healthcare": "pharmacy"}) == "pharmacy"
    assert venue_category({"office": "government", "name": "Центр надання адміністративних послуг"}) == "administrative"
    assert venue_category({"office": "government"}) == "government"
    assert venue_category({"public_transport": "platform"}) == "transport_stop"
    assert venue_category({"tourism": "museum"}) == "culture"
    assert venue_category({"office": "ngo"}) == "other"
    assert venue_address({"addr:place": "Зарванці", "addr:housenumber": "5"}) == "Зарванці, 5"
    assert venue_address({"addr:city": "Якушинці"}) is None
    assert venue_ramp({"ramp": "yes"}) == "fixed"
    assert venue_ramp({"ramp": "yes", "ramp:wheelchair": "no"}) == "none"
    assert venue_ramp({"ramp:portable": "yes"}) == "removable"
    assert venue_ramp({"ramp": "no"}) == "none"
    assert venue_ramp({}) is None
