"""Importing files into layers: formats, Ukrainian CRSs, mapping, validation, safety, dry run, upsert."""
import json
import os
import subprocess
import sys
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from gis.errors import InvalidInput, NotFound
from importers import sources
from importers.pipeline import ImportOptions, import_file
from layers.registry import get_layer
from tests.conftest import UKRAINE
from tests.helpers import scalar

HOTSPOTS = get_layer("wifi_hotspots")
COVERAGE = get_layer("coverage_areas")
PROTECTED = get_layer("protected_areas")
# Known places in the demo hromada (WGS 84): the house of culture and the TsNAP (invented positions).
PLACES = [("Будинок культури, Якушинці", 28.367112, 49.260341), ("ЦНАП «Якушинці»", 28.371455, 49.258012),
          ("Бібліотека, Зарванці", 28.389876, 49.257105)]


def run(engine, layer, path, **options):
    return import_file(engine, layer, path, ImportOptions(**options))


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def metres_from(engine, table, name_column, name, lon, lat) -> float:
    return scalar(engine, f"SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) "
                          f"FROM {table} WHERE {name_column} = :n", n=name, x=lon, y=lat)


def hotspots_frame(crs="EPSG:4326", headings=("Назва", "Оператор", "Години")) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({headings[0]: [p[0] for p in PLACES], headings[1]: ["Укртелеком", "Київстар", "Vodafone"],
                              headings[2]: ["08-20", "09-18", None]},
                             geometry=[Point(x, y) for _, x, y in PLACES], crs="EPSG:4326")
    return frame.to_crs(crs)


# A .dbf column name holds at most 10 bytes: "Назва" fits, "Оператор" does not.
SHAPEFILE_HEADINGS = ("Назва", "operator", "hours")


def assert_places_land(engine, tolerance_m=1.0):
    for name, lon, lat in PLACES:
        assert metres_from(engine, "wifi_hotspot", "name", name, lon, lat) < tolerance_m, name


# --- the real messy file -------------------------------------------------------------------------

def test_protected_areas_of_vinnytsia_oblast_import_with_ukrainian_headings(clean_db):
    report = run(clean_db, PROTECTED, UKRAINE / "vinnytska_protected_areas.geojson")
    assert (report.read, report.accepted, report.rejected) == (285, 285, 0)
    assert report.field_map["significance"] == "Адміністративний статус"
    assert report.kept_in_raw == ["Широта", "Довгота"]  # nothing is lost
    park = rows(clean_db, "SELECT name_uk, significance, kind, raion, raw->>'Широта' FROM protected_area "
                          "WHERE register_no = 'П-101'")[0]
    assert park == ("Немерчанський парк", "national", "парк-пам'ятка садово-паркового мистецтва",
                    "р-н Мурованокуриловецький", "N 48°40'31\"")
    # N 48°40'31" E 27°43'21" as decimal degrees.
    assert metres_from(clean_db, "protected_area", "register_no", "П-101", 27 + 43 / 60 + 21 / 3600,
                       48 + 40 / 60 + 31 / 3600) < 1
    assert dict(rows(clean_db, "SELECT significance, count(*) FROM protected_area GROUP BY 1"))["local"] > 0


# --- formats ---------------------------------------------------------------------------------------

def write_zip(path, folder, stem, *, skip=()):
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            if f.stem == stem and f.suffix not in skip:
                zf.write(f, f"data/{f.name}")
    return path


def test_zipped_shapefile_in_gauss_kruger_zone_5_with_cp1251_dbf(clean_db, tmp_path):
    shp = tmp_path / "hotspots.shp"
    pyogrio.write_dataframe(hotspots_frame("EPSG:5563", SHAPEFILE_HEADINGS), shp, encoding="cp1251")
    assert (tmp_path / "hotspots.cpg").read_text().strip().upper() in ("CP1251", "1251", "WINDOWS-1251")
    assert "Будинок".encode("cp1251") in (tmp_path / "hotspots.dbf").read_bytes()
    report = run(clean_db, HOTSPOTS, write_zip(tmp_path / "hotspots.zip", tmp_path, "hotspots"))
    assert report.accepted == 3 and report.crs == "EPSG:5563"
    assert_places_land(clean_db)
    assert rows(clean_db, "SELECT operator FROM wifi_hotspot ORDER BY id")[0][0] == "Укртелеком"


def test_old_dbf_without_cpg_needs_the_encoding_named(clean_db, tmp_path):
    pyogrio.write_dataframe(hotspots_frame("EPSG:5563", SHAPEFILE_HEADINGS), tmp_path / "old.shp", encoding="cp1251")
    archive = write_zip(tmp_path / "old.zip", tmp_path, "old", skip=(".cpg",))
    run(clean_db, HOTSPOTS, archive, encoding="cp1251")
    assert {r[0] for r in rows(clean_db, "SELECT name FROM wifi_hotspot")} == {p[0] for p in PLACES}


def test_shapefile_without_prj_needs_crs(clean_db, tmp_path):
    pyogrio.write_dataframe(hotspots_frame("EPSG:5563", SHAPEFILE_HEADINGS), tmp_path / "noprj.shp", encoding="utf-8")
    archive = write_zip(tmp_path / "noprj.zip", tmp_path, "noprj", skip=(".prj",))
    with pytest.raises(InvalidInput, match="does not say its CRS"):
        run(clean_db, HOTSPOTS, archive)
    run(clean_db, HOTSPOTS, archive, crs="EPSG:5563")
    assert_places_land(clean_db)


@pytest.mark.parametrize("epsg", [4326, 5561, 5563, 5567, 6383, 9832, 4284, 28405])
def test_every_ukrainian_crs_family_lands_within_a_metre(clean_db, tmp_path, epsg):
    """WGS 84, UCS-2000 geographic, GK zone 5, GK CM 27°E, TM zone 9, LCS-05 Vinnytsia, SK-42, SK-42 GK 5."""
    path = tmp_path / f"places_{epsg}.gpkg"
    pyogrio.write_dataframe(hotspots_frame(f"EPSG:{epsg}"), path)
    report = run(clean_db, HOTSPOTS, path)
    assert report.crs == f"EPSG:{epsg}" and report.accepted == 3
    assert_places_land(clean_db)


def test_csv_with_degrees_minutes_seconds_and_decimal_commas(clean_db, tmp_path):
    path = tmp_path / "wifi.csv"
    path.write_text('Назва;Широта;Довгота;Оператор\n'
                    '"Будинок культури, Якушинці";"N 49°15\'37.23""";"E 28°22\'1.60""";Укртелеком\n'
                    '"ЦНАП «Якушинці»";49,258012;28,371455;Київстар\n'
                    '"Бібліотека, Зарванці";49°15′25.58″N;28°23′23.55″E;Vodafone\n'
                    'Без координат;;;\n', encoding="utf-8")
    report = run(clean_db, HOTSPOTS, path)
    assert report.accepted == 3 and report.rejections == [(4, "empty or missing geometry")]
    assert_places_land(clean_db, tolerance_m=1.0)


def test_csv_with_a_wkt_column(clean_db, tmp_path):
    path = tmp_path / "wkt.csv"
    lines = ["name,operator,wkt"] + [f'"{n}",Укртелеком,POINT ({x} {y})' for n, x, y in PLACES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run(clean_db, HOTSPOTS, path).accepted == 3
    assert_places_land(clean_db)


def test_kml(clean_db, tmp_path):
    path = tmp_path / "wifi.kml"
    pyogrio.write_dataframe(hotspots_frame().rename(columns={"Назва": "Name"}), path, driver="KML")
    report = run(clean_db, HOTSPOTS, path)
    assert report.accepted == 3 and report.field_map["name"] == "Name"
    assert_places_land(clean_db)


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="101" lat="49.260341" lon="28.367112" version="1">
    <tag k="amenity" v="community_centre"/><tag k="name" v="Будинок культури, Якушинці"/>
    <tag k="internet_access" v="wlan"/><tag k="operator" v="Укртелеком"/><tag k="opening_hours" v="Mo-Fr 08:00-20:00"/>
  </node>
  <node id="102" lat="49.258012" lon="28.371455" version="1">
    <tag k="office" v="government"/><tag k="name" v="ЦНАП «Якушинці»"/><tag k="internet_access" v="wlan"/>
  </node>
  <node id="103" lat="49.2601" lon="28.3650" version="1">
    <tag k="highway" v="street_lamp"/><tag k="ref" v="112"/>
  </node>
  <node id="104" lat="49.2602" lon="28.3660" version="1"/>
  <node id="105" lat="49.2612" lon="28.3670" version="1"/>
  <way id="201" version="1"><nd ref="104"/><nd ref="105"/><tag k="highway" v="residential"/>\
<tag k="name" v="вул. Шкільна"/></way>
</osm>
"""


def test_osm_xml_by_tag_filter(clean_db, tmp_path):
    path = tmp_path / "village.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    report = run(clean_db, HOTSPOTS, path, osm_filters=[("internet_access", "wlan")])
    assert report.accepted == 2 and report.field_map["hours"] == "opening_hours"
    got = rows(clean_db, "SELECT name, operator, hours, osm_id FROM wifi_hotspot ORDER BY osm_id")
    assert got == [("Будинок культури, Якушинці", "Укртелеком", "Mo-Fr 08:00-20:00", "101"),
                   ("ЦНАП «Якушинці»", None, None, "102")]
    assert metres_from(clean_db, "wifi_hotspot", "osm_id", "101", 28.367112, 49.260341) < 1


def test_osm_pbf_by_tag_filter(clean_db, tmp_path):
    import osmium

    xml = tmp_path / "village.osm"
    xml.write_text(OSM_XML, encoding="utf-8")
    pbf = tmp_path / "village.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))

    class Copy(osmium.SimpleHandler):
        def node(self, n):
            writer.add_node(n)

        def way(self, w):
            writer.add_way(w)

    Copy().apply_file(str(xml))
    writer.close()
    assert b"OSMHeader" in pbf.read_bytes()[:40]  # a real PBF, not XML
    report = run(clean_db, HOTSPOTS, pbf, osm_filters=[("internet_access", "wlan")])
    assert report.accepted == 2
    assert {r[0] for r in rows(clean_db, "SELECT osm_id FROM wifi_hotspot")} == {"101", "102"}


def coverage_gpkg(path, rows_):
    frame = gpd.GeoDataFrame({"provider": [r[0] for r in rows_], "technology": [r[1] for r in rows_],
                              "download": [r[2] for r in rows_]},
                             geometry=[r[3] for r in rows_], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="coverage", geometry_type="Unknown")
    return path


def square(x, y, d=0.01):
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def test_geopackage_with_invalid_polygons_is_repaired_and_bad_rows_rejected(demo_db, tmp_path):
    clean_db = demo_db  # with the demo hromada, so features get their hromada
    bow_tie = Polygon([(28.30, 49.24), (28.32, 49.26), (28.32, 49.24), (28.30, 49.26), (28.30, 49.24)])
    path = coverage_gpkg(tmp_path / "coverage.gpkg", [
        ("Укртелеком", "FTTH", 500, square(28.35, 49.25)),
        ("Київстар", "4g", "75,5", bow_tie),
        ("Lifecell", "4G", 40, Point(28.36, 49.25)),
        ("Vodafone", "6G", 900, square(28.36, 49.26)),
        (None, "3g", 5, square(28.37, 49.27)),
        ("Intertelecom", "3g", "fast", square(28.38, 49.27)),
    ])
    report = run(clean_db, COVERAGE, path)
    assert (report.read, report.accepted, report.repaired, report.rejected) == (6, 2, 1, 4)
    reasons = dict(report.rejections)
    assert reasons[3] == "geometry is a Point; layer coverage_areas takes MultiPolygon"
    assert "technology: '6G' is not one of" in reasons[4]
    assert reasons[5].startswith("provider is required")
    assert reasons[6] == "down_mbps: 'fast' is not a number"
    got = rows(clean_db, "SELECT provider, technology, down_mbps, ST_IsValid(geom), GeometryType(geom), "
                         "hromada_id FROM coverage_area WHERE NOT is_demo ORDER BY id")
    demo = scalar(clean_db, "SELECT id FROM hromada WHERE katottg = 'UA05020310000080026'")
    assert got == [("Укртелеком", "ftth", 500.0, True, "MULTIPOLYGON", demo),
                   ("Київстар", "4g", 75.5, True, "MULTIPOLYGON", demo)]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32635"])
def test_a_polygon_with_a_vertex_without_a_number_is_rejected_not_repaired(demo_db, tmp_path, crs):
    """Its bounds leave the NaN out (found by them when nothing is reprojected), so it is told apart
    from an invalid polygon — repairing it would make up a shape."""
    with warnings.catch_warnings():  # shapely warns of the NaN it is asked to make
        warnings.simplefilter("ignore", RuntimeWarning)
        holed = Polygon([(28.35, 49.25), (28.36, float("nan")), (28.36, 49.26), (28.35, 49.25)])
    frame = gpd.GeoDataFrame({"provider": ["A", "B"], "technology": ["ftth", "ftth"], "download": [500, 100]},
                             geometry=[holed, square(28.37, 49.25)], crs="EPSG:4326").to_crs(crs)
    path = tmp_path / "nan.gpkg"
    pyogrio.write_dataframe(frame, path, layer="coverage", geometry_type="Unknown")
    report = run(demo_db, COVERAGE, path)
    assert (report.accepted, report.repaired, report.rejections) == (1, 0, [(1, "empty or missing geometry")])


def test_unchanged_geometries_go_on_as_the_files_wkb_the_rest_as_made(demo_db, tmp_path):
    from shapely.geometry import MultiPolygon

    bow_tie = MultiPolygon([Polygon([(28.30, 49.24), (28.32, 49.26), (28.32, 49.24), (28.30, 49.26)])])
    kept = [MultiPolygon([square(28.35 + i / 100, 49.25)]) for i in range(3)]
    path = coverage_gpkg(tmp_path / "coverage.gpkg", [
        ("A", "ftth", 1, kept[0]), ("B", "ftth", 2, square(28.40, 49.25)), ("C", "ftth", 3, kept[1]),
        ("D", "ftth", 4, bow_tie), ("E", "ftth", 5, kept[2]),
    ])
    report = run(demo_db, COVERAGE, path)
    assert (report.accepted, report.repaired) == (5, 1)
    got = {provider: bytes(wkb) for provider, wkb in rows(
        demo_db, "SELECT provider, ST_AsBinary(geom) FROM coverage_area WHERE NOT is_demo")}
    file_wkb = dict(zip("ABCDE", pyogrio.read_dataframe(path).geometry.to_wkb(), strict=True))
    # (B's Polygon among MultiPolygons is written a MultiPolygon by GDAL already; promotion has its own test.)
    assert [got[p] == file_wkb[p] for p in "ABCDE"] == [True, True, True, False, True]
    assert shapely.from_wkb(got["B"]) == MultiPolygon([square(28.40, 49.25)])
    repaired = shapely.from_wkb(got["D"])
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon" and len(repaired.geoms) == 2


def test_as_wkb_sends_the_files_bytes_for_geometries_left_as_read():
    from importers.pipeline import _as_wkb

    read = np.array([Point(1, 2), Point(3, 4), Point(5, 6)], dtype=object)
    file_wkb = np.array([b"file-1", b"file-2", None], dtype=object)  # the third was not plain 2D WKB
    same = _as_wkb(read.copy(), read, file_wkb)
    assert list(same) == [b"file-1", b"file-2", shapely.to_wkb(Point(5, 6))]
    changed = read.copy()
    changed[0] = Point(1, 2)  # equal, but made anew (a repair, a reprojection): written again
    assert list(_as_wkb(changed, read, file_wkb))[:2] == [shapely.to_wkb(Point(1, 2)), b"file-2"]
    assert list(_as_wkb(read.copy(), read, None)) == list(shapely.to_wkb(read))


def test_geopackage_with_several_layers_asks_which(clean_db, tmp_path):
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(hotspots_frame(), path, layer="wifi")
    pyogrio.write_dataframe(hotspots_frame(), path, layer="other", append=False)
    with pytest.raises(InvalidInput, match="several layers"):
        run(clean_db, HOTSPOTS, path)
    assert run(clean_db, HOTSPOTS, path, source_layer="wifi").accepted == 3
    with pytest.raises(InvalidInput, match="no layer 'nope'"):
        run(clean_db, HOTSPOTS, path, source_layer="nope")


def test_explicit_mapping_and_unknown_columns_kept_in_raw(clean_db, tmp_path):
    frame = hotspots_frame().rename(columns={"Назва": "object", "Оператор": "who"})
    frame["floor"] = [1, 2, 3]
    path = tmp_path / "m.geojson"
    frame.to_file(path)
    report = run(clean_db, HOTSPOTS, path, mapping={"object": "name", "who": "operator"})
    assert report.field_map["name"] == "object" and report.field_map["operator"] == "who"
    assert report.field_map["hours"] == "Години"  # by its Ukrainian alias
    assert rows(clean_db, "SELECT raw FROM wifi_hotspot ORDER BY id")[0][0] == {"floor": 1}
    with pytest.raises(InvalidInput, match="has no fields nope"):
        run(clean_db, HOTSPOTS, path, mapping={"object": "nope"})


# --- safety ----------------------------------------------------------------------------------------

def test_zip_path_traversal_is_refused(clean_db, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.geojson", hotspots_frame().to_json())
    with pytest.raises(InvalidInput, match="points outside the archive"):
        run(clean_db, HOTSPOTS, archive)
    assert not (tmp_path.parent / "escaped.geojson").exists()
    assert scalar(clean_db, "SELECT count(*) FROM wifi_hotspot") == 0


def test_zip_bomb_is_refused(clean_db, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.geojson", b" " * (60 * 1024 * 1024))
    assert archive.stat().st_size < 200 * 1024
    with pytest.raises(InvalidInput, match="zip bomb"):
        run(clean_db, HOTSPOTS, archive)


def test_corrupt_oversize_and_missing_files(clean_db, tmp_path, monkeypatch):
    corrupt = tmp_path / "broken.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(InvalidInput, match="Cannot read broken.gpkg"):
        run(clean_db, HOTSPOTS, corrupt)
    bad_zip = tmp_path / "broken.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InvalidInput, match="corrupt zip"):
        run(clean_db, HOTSPOTS, bad_zip)
    big = tmp_path / "big.geojson"
    hotspots_frame().to_file(big)
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 100)
    with pytest.raises(InvalidInput, match="too large"):
        run(clean_db, HOTSPOTS, big)
    with pytest.raises(NotFound):
        run(clean_db, HOTSPOTS, tmp_path / "nothing.gpkg")
    assert scalar(clean_db, "SELECT count(*) FROM wifi_hotspot") == 0
    assert [r[0] for r in rows(clean_db, "SELECT status FROM import_run")] == ["failed"] * 3 + ["failed"]


def test_wrong_crs_is_stopped_and_named(clean_db, tmp_path):
    pyogrio.write_dataframe(hotspots_frame("EPSG:5563", SHAPEFILE_HEADINGS), tmp_path / "gk.shp")
    archive = write_zip(tmp_path / "gk.zip", tmp_path, "gk")
    with pytest.raises(InvalidInput) as err:
        run(clean_db, HOTSPOTS, archive, crs="EPSG:4326")
    assert "outside Ukraine" in err.value.en and "EPSG:5563 UCS-2000 / Gauss-Kruger zone 5" in err.value.en
    swapped = gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(49.26, 28.367)], crs="EPSG:4326")
    swapped.to_file(tmp_path / "swapped.geojson")
    with pytest.raises(InvalidInput, match="swapped axes"):
        run(clean_db, HOTSPOTS, tmp_path / "swapped.geojson")
    assert scalar(clean_db, "SELECT count(*) FROM wifi_hotspot") == 0


def test_an_import_lands_whole_or_not_at_all(clean_db, tmp_path):
    good = [Point(x, y) for _, x, y in PLACES] * 3
    frame = gpd.GeoDataFrame({"name": [f"n{i}" for i in range(10)]}, geometry=good + [Point(2.35, 48.85)],
                             crs="EPSG:4326")  # the last one is in Paris
    frame.to_file(tmp_path / "late.geojson")
    with pytest.raises(InvalidInput, match="outside Ukraine"):
        run(clean_db, HOTSPOTS, tmp_path / "late.geojson", batch_size=3)  # earlier batches were copied
    assert scalar(clean_db, "SELECT count(*) FROM wifi_hotspot") == 0


def test_dry_run_reports_and_writes_nothing(clean_db):
    report = run(clean_db, PROTECTED, UKRAINE / "vinnytska_protected_areas.geojson", dry_run=True)
    assert report.accepted == 285 and report.inserted == 285 and report.dry_run
    assert scalar(clean_db, "SELECT count(*) FROM protected_area") == 0
    saved = rows(clean_db, "SELECT dry_run, status, report->>'accepted' FROM import_run")
    assert saved == [(True, "done", "285")]


def test_upsert_key_updates_instead_of_duplicating(clean_db, tmp_path):
    run(clean_db, PROTECTED, UKRAINE / "vinnytska_protected_areas.geojson", upsert_key="register_no")
    data = json.loads((UKRAINE / "vinnytska_protected_areas.geojson").read_text())
    data["features"][0]["properties"]["Унормована назва"] = "Немерчанський парк (уточнено)"
    changed = tmp_path / "changed.geojson"
    changed.write_text(json.dumps(data, ensure_ascii=False))
    again = run(clean_db, PROTECTED, changed, upsert_key="register_no")
    assert (again.inserted, again.updated) == (0, 285)
    assert scalar(clean_db, "SELECT count(*) FROM protected_area") == 285
    assert scalar(clean_db, "SELECT name_uk FROM protected_area WHERE register_no = 'П-101'") == \
        "Немерчанський парк (уточнено)"
    with pytest.raises(InvalidInput, match="has no field nope"):
        run(clean_db, PROTECTED, changed, upsert_key="nope")


def test_core_layers_refuse_file_imports(clean_db):
    with pytest.raises(InvalidInput, match="does not take file imports"):
        run(clean_db, get_layer("reports"), UKRAINE / "vinnytska_protected_areas.geojson")


def test_geometry_promotion_and_multipoint(clean_db, tmp_path):
    frame = gpd.GeoDataFrame({"name": ["a", "b", "c"]}, geometry=[
        MultiPoint([(28.36, 49.26)]), MultiPoint([(28.36, 49.26), (28.37, 49.26)]),
        LineString([(28.36, 49.26), (28.37, 49.26)])], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, tmp_path / "mixed.gpkg", geometry_type="Unknown")
    report = run(clean_db, HOTSPOTS, tmp_path / "mixed.gpkg")
    assert report.accepted == 1 and [r for r, _ in report.rejections] == [2, 3]


def test_cli_import_dry_run_and_errors(clean_db, database_url):
    env = dict(os.environ, DATABASE_URL=database_url)
    ok = subprocess.run([sys.executable, "-m", "webmap.cli", "import", "protected_areas",
                         str(UKRAINE / "vinnytska_protected_areas.geojson"), "--dry-run"],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "прийнято 285" in ok.stdout and "пробний запуск" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "webmap.cli", "import", "nope", "x.gpkg"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "Layer 'nope' does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_a_first_large_load_builds_the_indexes_after_the_rows(clean_db, monkeypatch):
    from importers import pipeline

    def indexes():
        return sorted(r[0] for r in rows(
            clean_db, "SELECT indexdef FROM pg_indexes WHERE tablename = 'protected_area'"))

    def foreign_keys():
        return sorted(rows(clean_db, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                                     "WHERE conrelid = 'protected_area'::regclass AND contype = 'f'"))

    before, keys_before = indexes(), foreign_keys()
    assert keys_before  # its hromada
    monkeypatch.setattr(pipeline, "BULK_LOAD_ROWS", 10)  # the shared file's 285 points count as "large"
    report = run(clean_db, get_layer("protected_areas"), UKRAINE / "vinnytska_protected_areas.geojson")
    assert report.inserted == 285 and indexes() == before  # dropped for the load, made again after
    assert foreign_keys() == keys_before  # and checked once, after the rows
    assert rows(clean_db, "SELECT count(*) FROM protected_area WHERE geom && ST_MakeEnvelope(27, 48, 30, 50, 4326)"
                ) == [(285,)]
    # A failed load rolls back whole: the indexes too.
    with clean_db.begin() as conn:
        conn.execute(sa.text("TRUNCATE protected_area"))
    with pytest.raises(InvalidInput):
        run(clean_db, get_layer("protected_areas"), UKRAINE / "vinnytska_protected_areas.geojson", crs="EPSG:3857")
    assert indexes() == before and rows(clean_db, "SELECT count(*) FROM protected_area")[0][0] == 0


def test_every_value_type_arrives_as_written(clean_db, tmp_path):
    """Numbers, choices, text with quotes, backslashes and line breaks, empty text, dates,
    datetimes with an offset, JSON: through the CSV COPY unchanged (or as converted)."""
    x, y = PLACES[0][1:]
    speed = tmp_path / "speed.csv"
    speed.write_text(
        "lat,lon,down_kbps,up_kbps,network,provider,measured_at\n"
        f'{y},{x},"12 500",800,mobile,"Укр""теле\\ком\nдругий рядок",2026-03-01T10:00:00+03:00\n'
        f'{y},{x},9000,700,fixed,"",2026-03-01 10:00\n'
        f'{y},{x},1,1,fixed,,\n'
        f'{y},{x},99999999999,700,fixed,,\n', encoding="utf-8")
    report = run(clean_db, get_layer("speed_tests"), speed)
    assert report.accepted == 3 and report.rejections == [(4, "down_kbps: '99999999999' is beyond ±2,147,483,647")]
    # Without an offset, a time is Kyiv's (EET, UTC+2, in March).
    assert rows(clean_db, "SELECT down_kbps, network, provider, to_char(measured_at AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD HH24:MI') FROM speed_test ORDER BY id") == [
        (12500, "mobile", 'Укр"теле\\ком другий рядок', "2026-03-01 07:00"), (9000, "fixed", None, "2026-03-01 08:00"),
        (1, "fixed", None, None)]

    lamps = tmp_path / "lamps.geojson"
    lamps.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"номер": "L-1", "стан": "working", "встановлено": "01.02.2020", "потужність": "40,5",
                        "колір": 'теплий "3000K"'}}]}), encoding="utf-8")
    assert run(clean_db, get_layer("street_lamps"), lamps).accepted == 1
    assert rows(clean_db, "SELECT ref, status, installed_on::text, power_w, raw FROM street_lamp") == [
        ("L-1", "working", "2020-02-01", 40.5, {"колір": 'теплий "3000K"'})]

    monuments = tmp_path / "monuments.geojson"
    monuments.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"назва": "Садиба", "види": ["архітектури", "історії"]}}]}), encoding="utf-8")
    assert run(clean_db, get_layer("heritage_objects"), monuments).accepted == 1
    assert rows(clean_db, "SELECT types FROM heritage_object") == [(["архітектури", "історії"],)]
