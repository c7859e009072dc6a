"""Address points and streets from OpenStreetMap (#17): an OSM XML file written here, read by GDAL's OSM
driver (nothing stubbed), stored in the demo hromada's villages, found by the address search; importing
the same file again changes nothing."""
from xml.sax.saxutils import quoteattr

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gis.errors import InvalidInput, NotFound
from importers.osm_addresses import import_osm_addresses
from layers.places import place_for
from tests.helpers import scalar


def rows_of(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]

DEMO = "UA05020310000080026"
Y = 49.262  # a line across Якушинці (west of 28.372) and Зарванці (east of it)
NODES = [  # id, lon, lat, tags
    (1, 28.3600, Y + 0.0002, {"addr:street": "вулиця Шевченка", "addr:housenumber": "12", "addr:city": "Якушинці"}),
    (2, 28.3610, Y - 0.0002, {"addr:street": "вулиця Шевченка", "addr:housenumber": "15"}),
    (3, 28.3550, Y + 0.0030, {"addr:place": "Якушинці", "addr:housenumber": "7"}),  # an address by village alone
    (4, 28.3560, Y + 0.0030, {"addr:housenumber": "9"}),  # a number with nothing to find it by
    (5, 28.3570, Y + 0.0030, {"amenity": "bench"}),
    (6, 30.5230, 50.4500, {"addr:street": "вулиця Хрещатик", "addr:housenumber": "1"}),  # Kyiv: no hromada loaded
    (7, 28.3900, Y + 0.0002, {"addr:street": "вулиця Шевченка", "addr:housenumber": "3"}),  # in Зарванці
    # corners of a house mapped as a building outline, and the street's ends
    (11, 28.3620, Y + 0.0003, {}), (12, 28.3623, Y + 0.0003, {}), (13, 28.3623, Y + 0.0006, {}),
    (14, 28.3620, Y + 0.0006, {}),
    (21, 28.3550, Y, {}), (22, 28.3950, Y, {}), (23, 28.3600, Y + 0.003, {}), (24, 28.3610, Y + 0.004, {}),
]
WAYS = [  # id, node ids, tags
    (101, [11, 12, 13, 14, 11], {"building": "house", "addr:street": "вулиця Шевченка", "addr:housenumber": "14А"}),
    (102, [21, 22], {"highway": "residential", "name": "вулиця Шевченка"}),
    (103, [23, 24], {"highway": "service"}),  # no name: no street
]


def osm_xml(nodes=NODES, ways=WAYS) -> str:
    def tags(t):
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in t.items())
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="hromada-gis tests">']
    lines += [f'<node id="{i}" version="1" lat="{y}" lon="{x}">{tags(t)}</node>' for i, x, y, t in nodes]
    lines += [f'<way id="{i}" version="1">{"".join(f"<nd ref={chr(34)}{n}{chr(34)}/>" for n in refs)}{tags(t)}</way>'
              for i, refs, t in ways]
    return "\n".join([*lines, "</osm>"]) + "\n"


@pytest.fixture
def extract(tmp_path):
    path = tmp_path / "yakushyntsi.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return path


def test_addresses_and_streets_land_in_their_villages_and_a_second_import_changes_nothing(demo_db, extract):
    first = import_osm_addresses(demo_db, extract, katottg=DEMO)
    a, s = first.addresses, first.streets
    assert (a.added, a.updated, a.unchanged, a.outside, first.skipped) == (5, 0, 0, 0, 1)  # Kyiv is out of the box
    assert (s.added, s.updated, s.unchanged, s.outside) == (2, 0, 0, 0)  # one way, cut at the villages' boundary
    got = rows_of(demo_db, """SELECT a.osm_id, a.street, a.place, a.housenumber, a.number, v.name_uk
                              FROM address_point a LEFT JOIN settlement v ON v.id = a.settlement_id
                              WHERE a.source = 'osm' ORDER BY a.osm_id""")
    assert got == [("node/1", "вулиця Шевченка", "Якушинці", "12", "12", "Якушинці"),
                   ("node/2", "вулиця Шевченка", None, "15", "15", "Якушинці"),
                   ("node/3", None, "Якушинці", "7", "7", "Якушинці"),
                   ("node/7", "вулиця Шевченка", None, "3", "3", "Зарванці"),
                   ("way/101", "вулиця Шевченка", None, "14А", "14а", "Якушинці")]
    assert rows_of(demo_db, """SELECT v.name_uk, st.name, st.search FROM street st JOIN settlement v
                               ON v.id = st.settlement_id WHERE st.source = 'osm' ORDER BY v.name_uk""") == [
        ("Зарванці", "вулиця Шевченка", "шевченка"), ("Якушинці", "вулиця Шевченка", "шевченка")]

    again = import_osm_addresses(demo_db, extract, katottg=DEMO)
    assert (again.addresses.added, again.addresses.updated, again.addresses.unchanged) == (0, 0, 5)
    assert (again.streets.added, again.streets.updated, again.streets.unchanged) == (0, 0, 2)
    assert scalar(demo_db, "SELECT count(*) FROM address_point WHERE source = 'osm'") == 5

    with demo_db.connect() as conn:
        house = place_for(conn, "вул. Шевченка 12, Якушинці")
        building = place_for(conn, "Шевченка 14 а, Якушинці")
        by_village = place_for(conn, "Якушинці, 7")
        other_village = place_for(conn, "Шевченка 3, Зарванці")
        no_house = place_for(conn, "Шевченка 40, Якушинці")
    assert (house["kind"], house["label"]) == ("address", "вул. Шевченка, 12, Якушинці")
    assert (house["lon"], house["lat"]) == pytest.approx((28.36, Y + 0.0002))
    assert building["label"] == "вул. Шевченка, 14А, Якушинці"
    assert 28.362 < building["lon"] < 28.3623 and Y + 0.0003 < building["lat"] < Y + 0.0006  # inside the outline
    assert by_village["label"] == "Якушинці, 7"
    assert other_village["label"] == "вул. Шевченка, 3, Зарванці"
    assert (no_house["kind"], no_house["label"]) == ("street", "вул. Шевченка, Якушинці")
    assert abs(no_house["lat"] - Y) < 1e-6  # on the street's line


def test_an_updated_extract_updates_what_changed(demo_db, extract, tmp_path):
    import_osm_addresses(demo_db, extract)  # no --hromada: every loaded hromada takes its own
    renumbered = [(i, x, y, {**t, "addr:housenumber": "12/1"} if i == 1 else t) for i, x, y, t in NODES]
    changed = tmp_path / "changed.osm"
    changed.write_text(osm_xml(nodes=renumbered), encoding="utf-8")
    report = import_osm_addresses(demo_db, changed)
    assert (report.addresses.added, report.addresses.updated, report.addresses.unchanged,
            report.addresses.outside) == (0, 1, 4, 1)  # Kyiv read, but in no hromada loaded
    with demo_db.connect() as conn:
        assert place_for(conn, "Шевченка 12/1, Якушинці")["kind"] == "address"
        assert place_for(conn, "Шевченка 12, Якушинці")["kind"] == "street"


def test_the_command_imports_into_one_hromada_and_refuses_what_it_cannot_read(demo_db, extract, tmp_path,
                                                                             database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["import-addresses", str(extract), "--hromada", DEMO])
    assert result.exit_code == 0, result.output
    assert "адрес додано 5" in result.output and "addresses added 5" in result.output
    assert "streets added 2" in result.output
    again = CliRunner().invoke(main, ["import-addresses", str(extract), "--hromada", DEMO])
    assert "addresses added 0, updated 0, unchanged 5" in again.output

    unknown = CliRunner().invoke(main, ["import-addresses", str(extract), "--hromada", "UA00000000000000000"])
    assert unknown.exit_code == 1 and "not found" in unknown.output
    not_osm = tmp_path / "points.geojson"
    not_osm.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="OpenStreetMap file"):
        import_osm_addresses(demo_db, not_osm)
    with pytest.raises(NotFound):
        import_osm_addresses(demo_db, tmp_path / "missing.osm.pbf")
