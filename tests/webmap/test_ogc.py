"""OGC API – Features: our tests, then independent clients (OWSLib, GDAL's ogrinfo) on a live server."""
import json
import subprocess

import pytest

from importers.pipeline import ImportOptions, import_file
from layers.registry import get_layer
from tests.conftest import UKRAINE

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@pytest.fixture
def ogc(app):
    return app


@pytest.fixture
def protected(demo_db):
    import_file(demo_db, get_layer("protected_areas"), UKRAINE / "vinnytska_protected_areas.geojson", ImportOptions())
    return demo_db


def cql(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def get(client, url, **kw):
    answer = client.get(url, **kw)
    return answer, (answer.get_json() if answer.is_json or answer.mimetype.endswith("json") else None)


def test_landing_conformance_collections(ogc, client, protected):
    answer, doc = get(client, "/ogc/")
    rels = {link["rel"] for link in doc["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    _, conf = get(client, "/ogc/conformance")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf["conformsTo"]
    _, cols = get(client, "/ogc/collections")
    ids = [c["id"] for c in cols["collections"]]
    assert {"hromadas", "protected_areas", "reports"} <= set(ids)
    one = next(c for c in cols["collections"] if c["id"] == "protected_areas")
    assert one["extent"]["spatial"]["bbox"][0][0] > 26 and CRS84 in one["crs"]
    api = json.loads(client.get("/ogc/api").data)
    assert api["openapi"].startswith("3.0") and "/collections/protected_areas/items" in api["paths"]
    assert "<h1>" in client.get("/ogc/collections?f=html").get_data(as_text=True)


def test_items_bbox_paging_properties_and_item(ogc, client, protected):
    _, page = get(client, "/ogc/collections/protected_areas/items?limit=100")
    assert page["numberMatched"] == 285 and page["numberReturned"] == 100
    next_link = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "offset=100" in next_link
    _, box = get(client, "/ogc/collections/protected_areas/items?bbox=27.70,48.66,27.74,48.69")
    assert [f["properties"]["register_no"] for f in box["features"]] == ["П-101"]
    _, by_property = get(client, "/ogc/collections/protected_areas/items?significance=local&limit=1000")
    assert by_property["numberMatched"] > 0
    assert all(f["properties"]["significance"] == "local" for f in by_property["features"])
    fid = box["features"][0]["id"]
    answer, feature = get(client, f"/ogc/collections/protected_areas/items/{fid}")
    assert feature["properties"]["name_uk"] == "Немерчанський парк"
    assert answer.headers["Content-Crs"] == f"<{CRS84}>"
    assert client.get("/ogc/collections/protected_areas/items/999999").status_code == 404


def test_crs_by_reference(ogc, client, protected):
    url = "/ogc/collections/protected_areas/items?bbox=27.70,48.66,27.74,48.69"
    answer, doc = get(client, url + "&crs=http://www.opengis.net/def/crs/EPSG/0/4326")
    lat, lon = doc["features"][0]["geometry"]["coordinates"]
    assert 48.6 < lat < 48.7 and 27.7 < lon < 27.8  # EPSG:4326: latitude first
    assert answer.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    _, tm = get(client, url + "&crs=http://www.opengis.net/def/crs/EPSG/0/6383")
    x, y = tm["features"][0]["geometry"]["coordinates"]
    assert 200_000 < x < 400_000 and 5_300_000 < y < 5_500_000  # metres in UCS-2000 / TM zone 9
    # The same box given in EPSG:3857.
    import pyproj

    to_merc = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y0, y1) = to_merc.transform([27.70, 27.74], [48.66, 48.69])
    _, merc = get(client, "/ogc/collections/protected_areas/items?bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857"
                          f"&bbox={x0},{y0},{x1},{y1}")
    assert [f["properties"]["register_no"] for f in merc["features"]] == ["П-101"]
    bad = client.get(url + "&crs=http://www.opengis.net/def/crs/EPSG/0/32635")
    assert bad.status_code == 400


def test_queryables_and_cql2_filters(ogc, client, protected):
    _, q = get(client, "/ogc/collections/protected_areas/queryables")
    assert q["properties"]["significance"]["enum"] == ["national", "local"] and "geom" in q["properties"]
    base = "/ogc/collections/protected_areas/items?limit=1000&filter="
    _, national = get(client, base + cql("significance = 'national' AND raion = 'р-н Немирівський'"))
    assert national["numberMatched"] >= 1
    assert all(f["properties"]["raion"] == "р-н Немирівський" for f in national["features"])
    _, spatial = get(client, base + cql("S_INTERSECTS(geom, BBOX(27.70,48.66,27.74,48.69)) OR register_no = 'П-108'"))
    assert sorted(f["properties"]["register_no"] for f in spatial["features"]) == ["П-101", "П-108"]
    for bad, words in [("name_uk LIKE 'Н%'", "not supported"), ("nope = 1", "not a queryable"),
                       ("significance = ", "cannot parse")]:
        answer = client.get(base + cql(bad))
        assert answer.status_code == 400 and words in answer.get_json()["message"]["en"], bad
    assert client.get(base + "x&filter-lang=cql2-json").status_code == 400


def test_unknown_parameters_and_staff_fields(ogc, client, demo_db):
    assert client.get("/ogc/collections/hromadas/items?colour=red").status_code == 400
    text = client.get("/ogc/collections/units/items?limit=100").get_data(as_text=True)
    assert "example.org" not in text
    assert client.get("/ogc/collections/nope").status_code == 404


def test_owslib_reads_collections_and_items(ogc, live_server, protected):
    from owslib.ogcapi.features import Features

    api = Features(live_server + "/ogc")
    ids = [c["id"] for c in api.collections()["collections"]]
    assert "protected_areas" in ids
    items = api.collection_items("protected_areas", bbox=[27.70, 48.66, 27.74, 48.69], limit=10)
    assert [f["properties"]["register_no"] for f in items["features"]] == ["П-101"]


def test_gdal_ogrinfo_oapif(ogc, live_server, protected):
    listing = subprocess.run(["ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc"], capture_output=True, text=True,
                             timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "protected_areas" in listing.stdout
    spat = subprocess.run(["ogrinfo", "-ro", "-al", "-q", f"OAPIF:{live_server}/ogc/collections/protected_areas",
                           "-spat", "27.70", "48.66", "27.74", "48.69"], capture_output=True, text=True, timeout=120)
    assert spat.returncode == 0, spat.stderr
    assert "Немерчанський парк" in spat.stdout and spat.stdout.count("OGRFeature") == 1


@pytest.mark.parametrize("layer", ["protected_areas", "reconstruction_projects", "street_lamps", "venues"])
def test_ogc_api_and_the_layer_api_read_the_same_features(ogc, client, protected, layer):
    """One reader behind both APIs (layers.query.read_features): the same query gives the same
    features — ids, geometries to the same precision, properties with dates and money alike."""
    query = "bbox=28.0,49.0,29.0,49.6&limit=50&offset=0"
    _, ours = get(client, f"/api/layers/{layer}/items?{query}")
    _, theirs = get(client, f"/ogc/collections/{layer}/items?{query}")
    assert ours["numberMatched"] == theirs["numberMatched"] > 0
    assert ours["features"] == theirs["features"]
    one = ours["features"][0]
    _, single_ours = get(client, f"/api/layers/{layer}/items/{one['id']}")
    _, single_theirs = get(client, f"/ogc/collections/{layer}/items/{one['id']}")
    single_theirs.pop("links")
    assert single_ours == single_theirs == one
