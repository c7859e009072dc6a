"""What the map pages fetch after they show (features in a view, a tile feature's popup) and the
paged list of every layer — the map page itself carries no feature."""
import math

import pytest
import sqlalchemy as sa

from gis.config import DEMO_KATOTTG
from tests.helpers import demo_hromada_id, scalar
from webmap.map_layers import LIST_PAGE_SIZE

VIEW = f"/api/map/{DEMO_KATOTTG}/layers"
WHOLE = "bbox=27.5,48.9,29.0,49.6"  # around the whole demo hromada


def test_features_in_view_are_ready_to_draw_and_only_public(client, demo_db):
    answer = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13")
    assert answer.status_code == 200 and answer.content_type == "application/geo+json"
    body = answer.json
    lamps = scalar(demo_db, "SELECT count(*) FROM street_lamp")
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"]) == lamps
    assert body["wholeHromada"] is True
    faulty = [f for f in body["features"] if f["properties"]["_style"]["fillColor"] == "#c92a2a"]
    assert len(faulty) == scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE status = 'faulty'")
    feature = body["features"][0]
    assert set(feature["properties"]) == {"_popup", "_style", "_label"}  # the map's needs, nothing more
    assert ["Номер опори", feature["properties"]["_label"]] in feature["properties"]["_popup"]
    # A unit by its name, never its id.
    maintained_by = dict(feature["properties"]["_popup"])["Обслуговує"]
    assert maintained_by == scalar(demo_db, "SELECT u.name_uk FROM street_lamp l "
                                            "JOIN unit u ON u.id = l.operator_unit_id WHERE l.id = :i", i=feature["id"])
    english = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13&lang=en").json["features"][0]
    assert english["properties"]["_popup"][0][0] != feature["properties"]["_popup"][0][0]

    # A view away from the lamps holds none of them and does not claim to cover the hromada.
    corner = client.get(f"{VIEW}/street_lamps?bbox=28.0,49.0,28.001,49.001&zoom=18").json
    assert corner["numberMatched"] == 0 and corner["wholeHromada"] is False


def test_geometries_are_simplified_to_the_zoom(client, demo_db):
    def vertices(zoom):
        shape = client.get(f"{VIEW}/hromadas?{WHOLE}&zoom={zoom}").json["features"][0]["geometry"]
        return sum(len(ring) for polygon in shape["coordinates"] for ring in polygon)

    assert vertices(8) < vertices(16)


def test_a_crowded_view_comes_as_clusters_that_count_every_feature(app, client, demo_db):
    from layers.synthetic import load_synthetic

    with demo_db.begin() as conn:
        load_synthetic(conn, 1500, 10)
        conn.execute(sa.text("UPDATE synthetic_point SET hromada_id = :h"), {"h": demo_hromada_id(demo_db)})
    in_hromada = scalar(demo_db, "SELECT count(*) FROM synthetic_point p "
                                 "WHERE ST_Intersects(p.geom, ST_MakeEnvelope(22, 44, 41, 53, 4326))")
    body = client.get(f"{VIEW}/synthetic_points?bbox=22,44,41,53&zoom=5").json  # about 430 px wide
    # Nothing cut off in silence: every point is in some cluster, and the answer says it is clustered.
    assert body["clustered"] is True and body["numberReturned"] == 0
    counts = [f["properties"]["_cluster"] for f in body["features"]]
    assert sum(counts) == body["numberMatched"] == in_hromada > 1000
    assert len(counts) < 100  # a grid of 48-pixel cells (9 × 4 here), not a feature each
    assert body["features"][0]["properties"]["_label"].startswith(f"{counts[0]} об")
    # A view of a few cells holds features again, with their popups.
    lon, lat = demo_db.connect().execute(sa.text("SELECT ST_X(geom), ST_Y(geom) FROM synthetic_point LIMIT 1")).one()
    near = client.get(f"{VIEW}/synthetic_points?bbox={lon - .001},{lat - .001},{lon + .001},{lat + .001}"
                      "&zoom=18").json
    assert near["clustered"] is False and near["features"] and "_popup" in near["features"][0]["properties"]


@pytest.mark.parametrize("query, problem", [
    ("", "bbox"), ("bbox=1,2,3", "bbox"), ("bbox=27,48,30,50&zoom=23", "zoom"), ("bbox=27,48,30,50&zoom=x", "zoom"),
])
def test_bad_view_requests_say_what_is_wrong(client, demo_db, query, problem):
    answer = client.get(f"{VIEW}/street_lamps?{query}")
    assert answer.status_code == 400 and problem in answer.get_data(as_text=True)


def test_unknown_or_restricted_layers_and_hromadas_are_404(client, demo_db):
    assert client.get(f"{VIEW}/no_such_layer?{WHOLE}").status_code == 404
    assert client.get(f"/api/map/UA99999999999999999/layers/street_lamps?{WHOLE}").status_code == 404
    assert client.get("/api/map/layers/no_such_layer/popup?lon=28&lat=49").status_code == 404


def test_unchanged_features_are_not_sent_again(client, demo_db):
    first = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13")
    assert first.headers["ETag"] and "no-cache" in first.headers["Cache-Control"]
    again = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    # The tag of a compressed answer names the same content.
    compressed = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["ETag"] == first.headers["ETag"][:-1] + ':gzip"'
    assert client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13",
                      headers={"If-None-Match": compressed.headers["ETag"]}).status_code == 304
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty' WHERE status <> 'faulty' "
                             "AND id = (SELECT min(id) FROM street_lamp WHERE status <> 'faulty')"))
    changed = client.get(f"{VIEW}/street_lamps?{WHOLE}&zoom=13", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


def test_a_click_on_a_tile_layer_finds_the_feature_and_its_popup(client, demo_db):
    from tests.helpers import asset_point

    lamp = next(f for f in client.get(f"{VIEW}/street_lamps?{WHOLE}").json["features"]
                if f["properties"]["_label"] == "301")
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    near = client.get(f"/api/map/layers/street_lamps/popup?lon={lon + 0.00002}&lat={lat}&zoom=17")
    assert near.json == {"popup": lamp["properties"]["_popup"], "label": "301"}
    # 8 px at zoom 17 is some 0.00005°: a click 0.001° away finds nothing, at zoom 10 it finds the lamp.
    assert client.get(f"/api/map/layers/street_lamps/popup?lon={lon + 0.001}&lat={lat}&zoom=17").status_code == 404
    assert client.get(f"/api/map/layers/street_lamps/popup?lon={lon + 0.001}&lat={lat}&zoom=10").status_code == 200
    for bad in ("lon=x&lat=49", "lon=200&lat=49", "lat=49", "lon=28&lat=49&zoom=40"):
        assert client.get(f"/api/map/layers/street_lamps/popup?{bad}").status_code == 400, bad


def test_the_list_pages_through_every_feature(client, demo_db):
    parcels = scalar(demo_db, "SELECT count(*) FROM parcel")
    pages = math.ceil(parcels / LIST_PAGE_SIZE)
    assert pages > 1
    listed = []
    for number in range(1, pages + 1):
        html = client.get(f"/map/{DEMO_KATOTTG}/layers/parcels?page={number}").get_data(as_text=True)
        listed += cadastral_numbers(html)
        assert ('rel="next"' in html) == (number < pages)
    # Every parcel once (the demo has a duplicated cadastral number, as land QA finds): no silent cut.
    assert len(listed) == parcels
    assert len(set(listed)) == scalar(demo_db, "SELECT count(DISTINCT cadastral_number) FROM parcel")
    beyond = client.get(f"/map/{DEMO_KATOTTG}/layers/parcels?page={pages + 1}")
    assert beyond.status_code == 404 and str(pages) in beyond.get_data(as_text=True)
    assert client.get(f"/map/{DEMO_KATOTTG}/layers/parcels?page=0").status_code == 400


def cadastral_numbers(html: str) -> list[str]:
    """The cadastral numbers in a list page (the parcels' names)."""
    import re

    return re.findall(r"<strong>(\d{10}:\d{2}:\d{3}:\d{4})</strong>", html)


def test_the_map_page_does_not_grow_with_the_data(client, demo_db):
    from layers.synthetic import load_synthetic

    small = len(client.get("/").data)
    with demo_db.begin() as conn:
        load_synthetic(conn, 3000, 10)
        conn.execute(sa.text("UPDATE parcel SET geom = ST_Multi(ST_Segmentize(geom::geography, 2)::geometry)"))
    large = len(client.get("/").data)
    assert large / small <= 1.05
    assert small < 40_000  # the HTML of the first view (scripts and styles are cached files)


def test_the_first_view_is_compressed_and_its_files_cached_for_a_year(client, demo_db):
    import re

    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip" and len(page.data) < 12_000
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("leaflet.js?v=" in s for s in scripts) and all("?v=" in s for s in scripts)
    with client.get(next(s for s in scripts if "leaflet.js" in s), headers={"Accept-Encoding": "br, gzip"}) as leaflet:
        assert leaflet.headers["Content-Encoding"] in ("br", "gzip") and len(leaflet.data) < 60_000
        assert "max-age=31536000" in leaflet.headers["Cache-Control"]
        assert "immutable" in leaflet.headers["Cache-Control"]
    with client.get("/static/site.css") as unversioned:
        assert "max-age=31536000" not in unversioned.headers.get("Cache-Control", "")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and "/static/favicon.svg" in icon.headers["Location"]
    assert re.search(r'<meta name="description" content="[^"]{40,}">', html)
