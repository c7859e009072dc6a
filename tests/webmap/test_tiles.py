"""Vector tiles: decoded with mapbox-vector-tile; public fields only; clustering; caching headers."""
import math

import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from importers.pipeline import ImportOptions, import_file
from layers.registry import get_layer
from tests.conftest import UKRAINE
from tests.helpers import asset_point, scalar
from webmap.tiles import tile_memory


@pytest.fixture
def tile_client(client):
    return client


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


@pytest.fixture
def protected(demo_db):
    import_file(demo_db, get_layer("protected_areas"), UKRAINE / "vinnytska_protected_areas.geojson", ImportOptions())
    return demo_db


def test_low_zoom_tiles_cluster_points(tile_client, protected):
    x, y = tile_of(28.5, 49.0, 4)
    answer = tile_client.get(f"/tiles/protected_areas/4/{x}/{y}.mvt")
    assert answer.status_code == 200 and answer.mimetype == "application/vnd.mapbox-vector-tile"
    features = decode(answer.data)["protected_areas"]["features"]
    assert 1 < len(features) < 285
    assert sum(f["properties"]["point_count"] for f in features) == 285  # the oblast fits in one z4 tile


def test_high_zoom_tile_has_the_feature_with_public_fields(tile_client, protected):
    lon, lat = 27.7225, 48.675277  # Немерчанський парк
    x, y = tile_of(lon, lat, 14)
    features = decode(tile_client.get(f"/tiles/protected_areas/14/{x}/{y}.mvt").data)["protected_areas"]["features"]
    park = next(f for f in features if f["properties"]["register_no"] == "П-101")
    assert park["properties"]["name_uk"] == "Немерчанський парк" and park["properties"]["significance"] == "national"
    assert "raw" not in park["properties"] and park["geometry"]["type"] == "Point"


def test_no_staff_only_field_in_any_tile(tile_client, demo_db):
    from layers.reports import NewReport, create_report

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out", description="Темно",
                                      name="Таємна Особа", email="secret@example.org", phone="+380501112233"),
                      public_url="http://x")
    x, y = tile_of(lon, lat, 16)
    data = tile_client.get(f"/tiles/reports/16/{x}/{y}.mvt").data
    feature = decode(data)["reports"]["features"][0]
    assert feature["properties"]["description"] == "Темно"
    assert not any(k.startswith("reporter") for k in feature["properties"])
    assert b"secret@example.org" not in data and "Таємна".encode() not in data
    x, y = tile_of(28.3, 49.25, 10)
    units = tile_client.get(f"/tiles/units/10/{x}/{y}.mvt").data
    props = [f["properties"] for f in decode(units)["units"]["features"]]
    assert props and all("email" not in p for p in props) and b"example.org" not in units


def test_caching_headers_and_empty_tiles(tile_client, protected):
    x, y = tile_of(28.5, 49.0, 5)
    first = tile_client.get(f"/tiles/protected_areas/5/{x}/{y}.mvt")
    assert first.headers["Cache-Control"].startswith("public") and first.headers["ETag"]
    again = tile_client.get(f"/tiles/protected_areas/5/{x}/{y}.mvt", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    empty = tile_client.get("/tiles/protected_areas/5/0/0.mvt")  # the Pacific
    assert empty.status_code == 204 and empty.data == b""


def test_bad_tiles_and_layers(tile_client, demo_db):
    assert tile_client.get("/tiles/hromadas/23/0/0.mvt").status_code == 400
    assert tile_client.get("/tiles/hromadas/3/8/0.mvt").status_code == 404
    assert tile_client.get("/tiles/nope/3/1/1.mvt").status_code == 404


def test_tilejson(tile_client, protected):
    doc = tile_client.get("/tiles/protected_areas.json").get_json()
    assert doc["tilejson"] == "3.0.0" and doc["tiles"][0].endswith("/tiles/protected_areas/{z}/{x}/{y}.mvt")
    assert doc["vector_layers"][0]["fields"]["name_uk"] == "String"
    west, south, east, north = doc["bounds"]
    assert 27 < west < east < 30.5 and 47.5 < south < north < 50.5
    assert scalar(protected, "SELECT count(*) FROM protected_area") == 285


def test_tiles_are_kept_in_memory_for_a_while(app, tile_client, demo_db):
    from layers.reports import NewReport, create_report

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    x, y = tile_of(lon, lat, 16)
    assert tile_client.get(f"/tiles/reports/16/{x}/{y}.mvt").status_code == 204
    with demo_db.begin() as conn:
        create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out", description="Темно"),
                      public_url="http://x")
    assert tile_client.get(f"/tiles/reports/16/{x}/{y}.mvt").status_code == 204  # the kept, empty tile
    tile_memory(app).clear()  # what the minute's expiry does
    assert tile_client.get(f"/tiles/reports/16/{x}/{y}.mvt").status_code == 200


def test_head_asks_for_the_headers_only(tile_client, protected):
    x, y = tile_of(28.5, 49.0, 5)
    full = tile_client.get(f"/tiles/protected_areas/5/{x}/{y}.mvt")
    head = tile_client.head(f"/tiles/protected_areas/5/{x}/{y}.mvt")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == full.headers["ETag"] and int(head.headers["Content-Length"]) == len(full.data)


def test_a_tile_is_answered_when_the_database_dropped_the_connections(app, tile_client, protected):
    """The fast path does not ping its pooled connections: a dropped one falls through to the Flask
    route, and the next request gets a fresh pool."""
    x, y = tile_of(28.5, 49.0, 6)
    path = f"/tiles/protected_areas/6/{x}/{y}.mvt"
    before = tile_client.get(path).data
    tile_memory(app).clear()
    with protected.connect() as conn:
        dropped = conn.execute(sa.text("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() """
            """AND backend_type = 'client backend'""")).scalar()
    assert dropped >= 1
    for _ in range(2):  # the fall-through, then the fresh pool
        tile_memory(app).clear()
        again = tile_client.get(path)
        assert again.status_code == 200 and again.data == before


def test_the_tiles_pool_runs_generic_plans_and_the_other_reads_do_not(app, tile_client, demo_db, monkeypatch):
    """A tile's plan does not depend on where the tile is: the fast path's own pool keeps one plan per
    statement (a national data set planned every feature tile afresh). A page of features is better
    planned for its box, so the other public reads keep PostgreSQL's choice; so does a pool behind
    pgbouncer, where a session's setting would reach other clients."""
    from webmap.database import _tile_engine

    x, y = tile_of(28.5, 49.0, 15)
    tile_client.get(f"/tiles/street_lamps/15/{x}/{y}.mvt")
    mode = "SHOW plan_cache_mode"
    with app.extensions["hromada_primary_tile_read_engine"].connect() as conn:
        assert conn.exec_driver_sql(mode).scalar() == "force_generic_plan"
    with app.extensions["hromada_primary_fast_read_engine"].connect() as conn:
        assert conn.exec_driver_sql(mode).scalar() == "auto"
    monkeypatch.setenv("HROMADA_PGBOUNCER", "1")
    behind_pgbouncer = _tile_engine(app.config["DATABASE_URL"])
    try:
        with behind_pgbouncer.connect() as conn:
            assert conn.exec_driver_sql(mode).scalar() == "auto"
    finally:
        behind_pgbouncer.dispose()

def test_small_polygons_come_as_clustered_points_below_their_zoom(tile_client, demo_db):
    """Parcels (Layer.tiles_as_points_below = 14): a z12 tile holds clusters of their points, not
    shapes smaller than a pixel; from z14 the shapes themselves."""
    lon, lat = scalar(demo_db, "SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT ST_PointOnSurface(geom) AS p "
                               "FROM parcel ORDER BY id LIMIT 1) s")
    x, y = tile_of(lon, lat, 12)
    low = decode(tile_client.get(f"/tiles/parcels/12/{x}/{y}.mvt").data)["parcels"]["features"]
    assert low and all(f["geometry"]["type"] == "Point" and f["properties"]["point_count"] >= 1 for f in low)
    x, y = tile_of(lon, lat, 15)
    high = decode(tile_client.get(f"/tiles/parcels/15/{x}/{y}.mvt").data)["parcels"]["features"]
    assert high and {f["geometry"]["type"] for f in high} <= {"Polygon", "MultiPolygon"}
    assert "cadastral_number" in high[0]["properties"]


def test_road_segments_come_as_clustered_points_below_z12(tile_client, demo_db):
    """A segment is a few pixels below z12: its tiles hold clusters (layers.tile_cells) like parcels';
    from z12 the lines themselves."""
    lon, lat = scalar(demo_db, "SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT ST_PointOnSurface(geom) AS p "
                               "FROM road_segment ORDER BY id LIMIT 1) s")
    x, y = tile_of(lon, lat, 11)
    low = decode(tile_client.get(f"/tiles/road_segments/11/{x}/{y}.mvt").data)["road_segments"]["features"]
    assert low and all(f["geometry"]["type"] == "Point" and f["properties"]["point_count"] >= 1 for f in low)
    x, y = tile_of(lon, lat, 12)
    high = decode(tile_client.get(f"/tiles/road_segments/12/{x}/{y}.mvt").data)["road_segments"]["features"]
    assert high and all("LineString" in f["geometry"]["type"] and "point_count" not in f["properties"] for f in high)
