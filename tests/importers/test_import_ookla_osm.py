"""Issue #6: Ookla's open-data speed tiles as published (zipped Shapefile, Parquet, quadkey-only CSV)
and OpenStreetMap roads (``highway=*`` ways) and street lamps (``highway=street_lamp`` nodes)."""
import math
import zipfile
from dataclasses import replace

import geopandas as gpd
import mercantile
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyproj
import pytest
import shapely
from shapely.geometry import box

from gis.errors import HromadaError, InvalidInput
from importers.pipeline import ImportOptions, import_file
from layers.checks import problems
from layers.registry import get_layer
from tests.helpers import scalar

TILES = get_layer("speed_tiles")
ROADS = get_layer("road_segments")
LAMPS = get_layer("street_lamps")
DEMO = "UA05020310000080026"
GEOD = pyproj.Geod(ellps="WGS84")

# Zoom-16 tiles in the demo hromada (Якушинці, Зарванці) and one in Kyiv, outside it.
OOKLA_ROWS = [  # lon, lat, avg_d_kbps, avg_u_kbps, avg_lat_ms, tests, devices, avg_lat_down_ms, avg_lat_up_ms
    (28.367, 49.260, 48211, 20113, 12, 31, 9, 180, 95),
    (28.389, 49.257, 103870, 95112, 6, 4, 2, 41, 30),
    (28.371, 49.258, 5120, 1024, 41, 1, 1, None, None),
    (30.523, 50.450, 250000, 180000, 5, 900, 300, 60, 40),
]


def run(engine, layer, path, **options):
    return import_file(engine, layer, path, ImportOptions(**options))


def rows(engine, sql, **params):
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def quadkey(lon, lat):
    return mercantile.quadkey(mercantile.tile(lon, lat, 16))


def tile_box(key):
    return box(*mercantile.bounds(mercantile.quadkey_to_tile(key)))


def geodesic_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def ookla_table(rows_=OOKLA_ROWS, *, with_tile=True) -> pa.Table:
    """The columns of Ookla's ``…_performance_*_tiles.parquet``, in their order and types."""
    keys = [quadkey(r[0], r[1]) for r in rows_]
    columns = {"quadkey": pa.array(keys, pa.string())}
    if with_tile:
        columns["tile"] = pa.array([tile_box(k).wkt for k in keys], pa.string())
        columns["tile_x"] = pa.array([tile_box(k).centroid.x for k in keys], pa.float64())
        columns["tile_y"] = pa.array([tile_box(k).centroid.y for k in keys], pa.float64())
    for i, name in enumerate(("avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices",
                              "avg_lat_down_ms", "avg_lat_up_ms"), start=2):
        columns[name] = pa.array([r[i] for r in rows_], pa.int64())
    return pa.table(columns)


def demo_id(engine):
    return scalar(engine, "SELECT id FROM hromada WHERE katottg = :k", k=DEMO)


def tiles_in_db(engine, source):
    """The tiles one file brought (the demo has speed tiles of its own)."""
    return rows(engine, "SELECT quadkey, network, period, avg_d_kbps, avg_u_kbps, avg_lat_ms, tests, devices, "
                        "avg_lat_down_ms, avg_lat_up_ms, hromada_id FROM speed_tile WHERE source = :s "
                        "ORDER BY avg_d_kbps",
                s=source)


# --- Ookla tiles -------------------------------------------------------------------------------------

def test_ookla_shapefile_zip_imports_as_published(demo_db, tmp_path):
    keys = [quadkey(r[0], r[1]) for r in OOKLA_ROWS[:3]]
    # Ookla's shapefiles: .dbf names hold 10 bytes, so avg_lat_down_ms is avg_lat_do.
    frame = gpd.GeoDataFrame({
        "quadkey": keys, "avg_d_kbps": [r[2] for r in OOKLA_ROWS[:3]], "avg_u_kbps": [r[3] for r in OOKLA_ROWS[:3]],
        "avg_lat_ms": [r[4] for r in OOKLA_ROWS[:3]], "avg_lat_do": [r[7] for r in OOKLA_ROWS[:3]],
        "avg_lat_up": [r[8] for r in OOKLA_ROWS[:3]], "tests": [r[5] for r in OOKLA_ROWS[:3]],
        "devices": [r[6] for r in OOKLA_ROWS[:3]]}, geometry=[tile_box(k) for k in keys], crs="EPSG:4326")
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "gps_fixed_tiles.shp")
    archive = tmp_path / "2024-01-01_performance_fixed_tiles.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)

    report = run(demo_db, TILES, archive)
    assert (report.read, report.accepted, report.rejected, report.crs) == (3, 3, 0, "EPSG:4326")
    assert report.field_map["avg_lat_down_ms"] == "avg_lat_do" and report.field_map["avg_lat_up_ms"] == "avg_lat_up"
    assert report.field_map["network"] == "file name (fixed)" and report.field_map["period"] == "file name (2024-Q1)"
    demo = demo_id(demo_db)
    assert tiles_in_db(demo_db, archive.name) == [
        (keys[2], "fixed", "2024-Q1", 5120, 1024, 41, 1, 1, None, None, demo),
        (keys[0], "fixed", "2024-Q1", 48211, 20113, 12, 31, 9, 180, 95, demo),
        (keys[1], "fixed", "2024-Q1", 103870, 95112, 6, 4, 2, 41, 30, demo)]
    assert_tiles_are_their_quadkeys(demo_db, archive.name)


def assert_tiles_are_their_quadkeys(engine, source):
    """Each stored polygon is its quadkey's tile; a zoom-16 tile is ~400 × 400 m at 49° N, not 611 m."""
    for key, wkb, area, width in rows(engine, """
            SELECT quadkey, ST_AsBinary(geom), ST_Area(geom::geography),
                   ST_Distance(ST_SetSRID(ST_MakePoint(ST_XMin(geom), ST_YMin(geom)), 4326)::geography,
                               ST_SetSRID(ST_MakePoint(ST_XMax(geom), ST_YMin(geom)), 4326)::geography)
            FROM speed_tile WHERE source = :s""", s=source):
        geom = shapely.from_wkb(bytes(wkb))
        assert geom.geom_type == "MultiPolygon"
        assert shapely.equals_exact(shapely.normalize(geom.geoms[0]), shapely.normalize(tile_box(key)), 1e-9)
        lat = tile_box(key).centroid.y
        side = 2 * math.pi * 6378137 / 2**16 * math.cos(math.radians(lat))  # Web Mercator scale
        assert width == pytest.approx(side, rel=0.01)
        assert area == pytest.approx(geodesic_area(tile_box(key)), rel=1e-3)
        if 49 <= lat <= 49.5:
            assert 390 < width < 405 and 150_000 < area < 165_000


def test_ookla_parquet_imports_as_published_and_keeps_to_ukraine(demo_db, tmp_path):
    paris = (2.35, 48.85, 300000, 200000, 4, 800, 250, 50, 30)
    table = ookla_table(OOKLA_ROWS[:2] + [paris] + OOKLA_ROWS[2:])
    path = tmp_path / "2024-04-01_performance_mobile_tiles.parquet"
    pq.write_table(table, path, row_group_size=2)

    report = run(demo_db, TILES, path, batch_size=2)  # streamed: three batches
    assert (report.read, report.accepted, report.rejected) == (4, 4, 0)  # Paris is not Ukraine's
    assert report.kept_in_raw == ["tile_x", "tile_y"]
    got = tiles_in_db(demo_db, path.name)
    assert [(g[1], g[2]) for g in got] == [("mobile", "2024-Q2")] * 4
    assert [g[3:10] for g in got] == [
        (5120, 1024, 41, 1, 1, None, None), (48211, 20113, 12, 31, 9, 180, 95),
        (103870, 95112, 6, 4, 2, 41, 30), (250000, 180000, 5, 900, 300, 60, 40)]
    demo = demo_id(demo_db)
    assert [g[10] for g in got] == [demo, demo, demo, None]  # Kyiv is not in a loaded hromada
    assert_tiles_are_their_quadkeys(demo_db, path.name)
    assert rows(demo_db, "SELECT raw FROM speed_tile WHERE source = :s AND avg_d_kbps = 5120",
                s=path.name)[0][0] == {
        "tile_x": pytest.approx(tile_box(quadkey(28.371, 49.258)).centroid.x),
        "tile_y": pytest.approx(tile_box(quadkey(28.371, 49.258)).centroid.y)}


def test_parquet_columns_win_over_the_file_name_and_quadkey_alone_gives_the_tile(demo_db, tmp_path):
    table = ookla_table(OOKLA_ROWS[:2], with_tile=False)
    table = table.append_column("network", pa.array(["fixed", "mobile"])).append_column(
        "period", pa.array(["2023-Q4", "2023-Q4"]))
    path = tmp_path / "2024-01-01_performance_mobile_tiles.parquet"
    pq.write_table(table, path)
    report = run(demo_db, TILES, path)
    assert report.accepted == 2 and report.field_map["network"] == "network"
    assert [g[1:3] for g in tiles_in_db(demo_db, path.name)] == [("fixed", "2023-Q4"), ("mobile", "2023-Q4")]
    assert_tiles_are_their_quadkeys(demo_db, path.name)


def test_geoparquet_geometry_column_and_its_crs(demo_db, tmp_path):
    keys = [quadkey(r[0], r[1]) for r in OOKLA_ROWS[:2]]
    frame = gpd.GeoDataFrame({"quadkey": keys, "avg_d_kbps": [1, 2]}, geometry=[tile_box(k) for k in keys],
                             crs="EPSG:4326").to_crs("EPSG:6383")  # UCS-2000 / Ukraine TM zone 9, metres
    path = tmp_path / "tiles.parquet"
    frame.to_parquet(path)
    assert b"geo" in pq.read_schema(path).metadata
    report = run(demo_db, TILES, path)
    assert report.accepted == 2 and report.crs == "EPSG:6383"
    got = rows(demo_db, "SELECT quadkey, ST_Area(geom::geography) FROM speed_tile WHERE source = :s",
                s=path.name)
    for key, area in got:
        assert area == pytest.approx(geodesic_area(tile_box(key)), rel=1e-3)


def test_quadkey_only_csv_gets_tile_geometry(demo_db, tmp_path):
    keys = [quadkey(r[0], r[1]) for r in OOKLA_ROWS[:2]]
    path = tmp_path / "ookla_export.csv"
    path.write_text(f"quadkey,avg_d_kbps,tests\n{keys[0]},48211,31\n{keys[1]},103870,4\n120340x1,1,1\n,2,2\n",
                    encoding="utf-8")
    report = run(demo_db, TILES, path)
    assert report.accepted == 2
    assert report.rejections == [(3, "empty or missing geometry"), (4, "empty or missing geometry")]
    assert_tiles_are_their_quadkeys(demo_db, path.name)
    assert [g[1:3] for g in tiles_in_db(demo_db, path.name)] == [(None, None), (None, None)]  # no Ookla name: no guess


@pytest.mark.parametrize("name, values", [
    ("2024-01-01_performance_mobile_tiles.parquet", {"network": "mobile", "period": "2024-Q1"}),
    ("2023-10-01_performance_fixed_tiles.zip gps_fixed_tiles.shp", {"network": "fixed", "period": "2023-Q4"}),
    ("ookla 2024-03-31 fixed.csv", {"network": "fixed", "period": "2024-Q1"}),
    ("2024-12-01_performance_mobile_tiles.parquet", {"network": "mobile", "period": "2024-Q4"}),
    ("gps_mobile_tiles.shp", {"network": "mobile"}),
    ("immobile_2024-13-01.csv", {}),
])
def test_network_and_period_from_ookla_file_names(name, values):
    assert TILES.values_from_file_name(name) == values


def test_parquet_without_geometry_or_quadkey_is_a_clear_400(clean_db, tmp_path):
    path = tmp_path / "2024-01-01_performance_fixed_tiles.parquet"
    pq.write_table(pa.table({"avg_d_kbps": [1], "tests": [1]}), path)
    with pytest.raises(InvalidInput) as err:
        run(clean_db, TILES, path)
    assert isinstance(err.value, HromadaError) and err.value.http_status == 400
    assert "no geometry" in err.value.en and "quadkey" in err.value.en and "avg_d_kbps, tests" in err.value.en
    assert "немає геометрії" in err.value.uk
    assert scalar(clean_db, "SELECT count(*) FROM speed_tile") == 0
    assert rows(clean_db, "SELECT status FROM import_run") == [("failed",)]
    corrupt = tmp_path / "broken.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="Cannot read broken.parquet"):
        run(clean_db, TILES, corrupt)


# --- OpenStreetMap roads and street lamps ---------------------------------------------------------

NODES = {  # id: (lon, lat)
    1: (28.3600, 49.2550), 2: (28.3700, 49.2560), 3: (28.3800, 49.2570),
    4: (28.3650, 49.2600), 5: (28.3660, 49.2610),
    6: (28.3700, 49.2590), 7: (28.3720, 49.2595),
    8: (28.3750, 49.2580), 9: (28.3760, 49.2585),
    10: (28.3680, 49.2620), 11: (28.3690, 49.2630),
    12: (28.3850, 49.2560), 13: (28.3870, 49.2565),
}
WAYS = [  # id, nodes, tags
    (201, [1, 2, 3], {"highway": "primary", "ref": "Н-02", "name": "Khmelnytske shose",
                      "name:uk": "Хмельницьке шосе", "surface": "asphalt", "lit": "yes", "maxspeed": "90"}),
    (202, [4, 5], {"highway": "tertiary", "ref": "О020107", "surface": "asphalt:lanes"}),
    (203, [6, 7], {"highway": "residential", "lit": "no"}),
    (204, [8, 9], {"highway": "footway", "name": "стежка"}),
    (205, [10, 11], {"highway": "steps"}),
    (206, [12, 13], {"highway": "secondary_link", "ref": "P-33", "lit": "24/7"}),  # Latin P: Р-33
    (207, [9, 13], {"highway": "cycleway"}),
    (208, [2, 7], {"waterway": "ditch"}),
]
LAMP_NODES = [  # id, lon, lat, tags
    (301, 28.3610, 49.2552, {"highway": "street_lamp", "ref": "301", "light:method": "LED",
                             "support": "street_lamp_pole", "operator": "КП «Якушинціблагоустрій»"}),
    (302, 28.3705, 49.2592, {"highway": "street_lamp", "lamp_ref": "302", "light:method": "high_pressure_sodium",
                             "support": "wall_mounted", "light:power": "70 W"}),
    (303, 28.3715, 49.2594, {"highway": "street_lamp", "ref": "303", "light:method": "sodium",
                             "light:power": "50"}),
    (304, 28.3720, 49.2596, {"highway": "street_lamp"}),  # no number on it
    (305, 28.3730, 49.2597, {"amenity": "bench"}),
]


def write_osm(path):
    import osmium
    from osmium.osm.mutable import Node, Way

    writer = osmium.SimpleWriter(str(path))
    try:
        lamps = {i: (x, y, tags) for i, x, y, tags in LAMP_NODES}
        for i in sorted({*NODES, *lamps}):
            x, y, tags = lamps[i] if i in lamps else (*NODES[i], {})
            writer.add_node(Node(id=i, location=(x, y), tags=tags, version=1))
        for i, nodes, tags in WAYS:
            writer.add_way(Way(id=i, nodes=nodes, tags=tags, version=1))
    finally:
        writer.close()
    return path


def test_osm_highway_ways_into_road_segments_with_owner_classes(demo_db, tmp_path):
    pbf = write_osm(tmp_path / "extract.osm.pbf")
    assert b"OSMHeader" in pbf.read_bytes()[:40]
    report = run(demo_db, ROADS, pbf, batch_size=2)
    assert (report.accepted, report.rejected) == (4, 0)  # footway, steps, cycleway and the ditch skipped
    assert report.kept_in_raw == ["osm_tags"]
    got = rows(demo_db, "SELECT osm_id, name, ref, road_class, owner, surface, lit, hromada_id, raw->'osm_tags' "
                        "FROM road_segment WHERE source = 'extract.osm.pbf' ORDER BY osm_id")
    demo = demo_id(demo_db)
    assert got == [
        ("201", "Хмельницьке шосе", "Н-02", "primary", "state", "asphalt", True, demo,
         {"highway": "primary", "name": "Khmelnytske shose", "maxspeed": "90"}),
        ("202", None, "О020107", "tertiary", "regional", None, None, demo,
         {"highway": "tertiary", "surface": "asphalt:lanes"}),  # not a surface we know: kept, not lost
        ("203", None, None, "residential", "communal", None, False, demo, {"highway": "residential"}),
        ("206", None, "P-33", "secondary", "state", None, None, demo, {"highway": "secondary_link", "lit": "24/7"}),
    ]
    length = scalar(demo_db, "SELECT ST_Length(geom::geography) FROM road_segment WHERE osm_id = '201'")
    expected = sum(GEOD.inv(*NODES[a], *NODES[b])[2] for a, b in ((1, 2), (2, 3)))
    assert length == pytest.approx(expected, rel=1e-4)


def test_osm_street_lamp_nodes_with_defaults(demo_db, tmp_path):
    xml = write_osm(tmp_path / "extract.osm")  # osmium writes XML for .osm
    assert xml.read_text(encoding="utf-8").lstrip().startswith("<?xml")

    report = run(demo_db, LAMPS, xml)
    assert (report.read, report.accepted) == (4, 3)  # the bench is no lamp
    assert report.rejections == [(4, "ref is required (Pole number)")]
    got = rows(demo_db, "SELECT osm_id, ref, lamp_type, support, power_w, status, hromada_id, raw->'osm_tags' "
                        "FROM street_lamp WHERE source = 'extract.osm' ORDER BY osm_id")
    demo = demo_id(demo_db)
    assert got == [
        ("301", "301", "LED", "street_lamp_pole", None, "working", demo,
         {"highway": "street_lamp", "operator": "КП «Якушинціблагоустрій»"}),
        ("302", "302", "high_pressure_sodium", "wall_mounted", None, "working", demo,
         {"highway": "street_lamp", "light:power": "70 W"}),
        ("303", "303", None, None, 50.0, "working", demo, {"highway": "street_lamp", "light:method": "sodium"}),
    ]


def test_osm_tag_filters_narrow_the_declared_one(demo_db, tmp_path):
    pbf = write_osm(tmp_path / "extract.osm.pbf")
    report = run(demo_db, ROADS, pbf, osm_filters=[("lit", None)])
    assert report.accepted == 3
    assert {r[0] for r in rows(demo_db, "SELECT osm_id FROM road_segment WHERE source = 'extract.osm.pbf'")} == {
        "201", "203", "206"}


def test_checker_finds_an_osm_spec_that_does_not_fit():
    broken = replace(ROADS, osm=replace(ROADS.osm, tags={**ROADS.osm.tags, "nmae": ("name",)},
                                        defaults={"owner": "federal"}))
    found = problems(broken)
    assert any("OSM tags field 'nmae' is not a field" in p for p in found)
    assert any("OSM default owner='federal' is not one of its choices" in p for p in found)
    assert not any("OSM" in p for p in problems(ROADS))
