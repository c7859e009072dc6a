"""The generic layer API: bbox, paging, public fields only, clear 4xx answers."""
import pytest

from gis.users import create_user
from importers.communities import load_communities
from tests.conftest import UKRAINE
from tests.helpers import demo_hromada_id, scalar

DEMO = "UA05020310000080026"
AROUND_DEMO = "28.0,49.1,28.5,49.4"


@pytest.fixture
def three_hromadas(demo_db):
    """The demo hromada and its neighbours Vinnytsia city and Stryzhavka."""
    load_communities(demo_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson",
                     katottg=["UA05020030000031457", "UA05020230000029909"])
    return demo_db


def names(collection):
    return sorted(f["properties"]["name_uk"] for f in collection["features"])


def test_layers_index_lists_declared_layers_without_staff_fields(client, demo_db):
    answer = client.get("/api/layers")
    assert answer.status_code == 200
    layers = {layer["name"]: layer for layer in answer.get_json()["layers"]}
    assert {"hromadas", "settlements", "units", "reports", "protected_areas"} <= set(layers)
    unit_fields = [f["name"] for f in layers["units"]["fields"]]
    assert "name_uk" in unit_fields and "email" not in unit_fields and "phone" not in unit_fields
    report_fields = [f["name"] for f in layers["reports"]["fields"]]
    assert "description" in report_fields and not any(f.startswith("reporter_") for f in report_fields)
    assert layers["units"]["title"] == "Відповідальні підрозділи"
    english = client.get("/api/layers?lang=en").get_json()["layers"]
    assert english[0]["title"] == "Territorial communities"


def test_bbox_finds_the_demo_hromada(client, three_hromadas):
    answer = client.get(f"/api/layers/hromadas/items?bbox={AROUND_DEMO}")
    assert answer.status_code == 200 and answer.content_type == "application/geo+json"
    data = answer.get_json()
    assert "Якушинецька сільська громада" in names(data)
    demo = next(f for f in data["features"] if f["properties"]["katottg"] == DEMO)
    assert demo["geometry"]["type"] == "MultiPolygon"
    lon, lat = demo["geometry"]["coordinates"][0][0][0]
    assert 28.0 < lon < 28.5 and 49.1 < lat < 49.4  # RFC 7946 order: longitude first
    assert "crs" not in data
    assert data["attribution"] == "© OpenStreetMap contributors (ODbL)"


def test_bbox_filters_spatially(client, three_hromadas):
    west_of_demo = client.get("/api/layers/hromadas/items?bbox=27.0,48.0,27.1,48.1").get_json()
    assert west_of_demo["features"] == [] and west_of_demo["numberMatched"] == 0
    # A small box inside Vinnytsia city only.
    city = client.get("/api/layers/hromadas/items?bbox=28.46,49.22,28.47,49.23").get_json()
    assert names(city) == ["Вінницька міська громада"]


def test_paging_walks_every_item_once(client, demo_db):
    seen, url = [], "/api/layers/settlements/items?limit=5"
    while url:
        data = client.get(url).get_json()
        assert data["numberMatched"] == 14 and data["numberReturned"] <= 5
        seen += [f["id"] for f in data["features"]]
        url = next((link["href"] for link in data["links"] if link["rel"] == "next"), None)
    assert len(seen) == 14 == len(set(seen))
    last = client.get("/api/layers/settlements/items?limit=5&offset=10").get_json()
    assert [link["rel"] for link in last["links"]] == ["self", "prev"]


@pytest.mark.parametrize("items", ["/api/layers/settlements/items", "/ogc/collections/settlements/items"])
def test_past_the_count_limit_number_matched_is_left_out_and_paging_goes_on(app, client, demo_db, items):
    # A box over a national layer is counted no further than HROMADA_COUNT_MATCHED_UP_TO: 14 settlements
    # against a limit of 10 stand for a million lamps against 10,000.
    app.config["COUNT_MATCHED_UP_TO"] = 10
    seen, url = [], f"{items}?limit=4"
    while url:
        data = client.get(url).get_json()
        assert "numberMatched" not in data and data["numberReturned"] <= 4
        seen += [f["id"] for f in data["features"]]
        url = next((link["href"] for link in data["links"] if link["rel"] == "next"), None)
    assert len(seen) == 14 == len(set(seen))
    # Within the limit the count is exact, and the last page offers no next one.
    app.config["COUNT_MATCHED_UP_TO"] = 14
    last = client.get(f"{items}?limit=4&offset=12").get_json()
    assert last["numberMatched"] == 14 and last["numberReturned"] == 2
    assert not any(link["rel"] == "next" for link in last["links"])
    html = client.get(f"{items}?f=html", headers={"Accept": "text/html"}) if items.startswith("/ogc") else None
    assert html is None or "/ 14" in html.get_data(as_text=True)


def test_staff_only_fields_never_reach_anonymous_clients(client, demo_db):
    answer = client.get("/api/layers/units/items?limit=1000")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.get_json()["numberMatched"] == 15
    assert "@yakushynetska-demo.example.org" not in text
    for feature in answer.get_json()["features"]:
        assert "email" not in feature["properties"] and "phone" not in feature["properties"]
    one = client.get(f"/api/layers/units/items/{answer.get_json()['features'][0]['id']}")
    assert "email" not in one.get_json()["properties"]


def test_staff_see_staff_only_fields(client, demo_db):
    with demo_db.begin() as conn:
        user_id = create_user(conn, "admin@example.org", None, ["admin"], hromada_id=demo_hromada_id(demo_db))
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["auth_epoch"] = scalar(demo_db, "SELECT md5(coalesce(password_hash, '') || ':' || session_epoch) "
                                                "FROM app_user WHERE id = :u",
                                       u=user_id)
    data = client.get("/api/layers/units/items").get_json()
    assert all(f["properties"]["emails"][0].endswith("@yakushynetska-demo.example.org") for f in data["features"])


def test_hromada_filter(client, three_hromadas):
    data = client.get(f"/api/layers/settlements/items?hromada={DEMO}").get_json()
    assert data["numberMatched"] == 14
    other = client.get("/api/layers/settlements/items?hromada=UA05020030000031457").get_json()
    assert other["numberMatched"] == 0


@pytest.mark.parametrize("query, words", [
    ("bbox=28,49", "four comma-separated numbers"),
    ("bbox=a,b,c,d", "four comma-separated numbers"),
    ("bbox=49.1,28.0,49.4,28.5,", "four comma-separated numbers"),
    ("bbox=28,89,29,92", "latitude within −90…90"),
    ("bbox=29,49,28,50", "greater than its maximum"),
    ("bbox=nan,49,28,50", "four comma-separated numbers"),
    ("limit=0", "limit='0'"),
    ("limit=5000", "1…1000"),
    ("offset=-1", "offset='-1'"),
    ("hromada=UA1", "17 digits"),
])
def test_bad_parameters_get_a_400_in_both_languages(client, demo_db, query, words):
    answer = client.get(f"/api/layers/hromadas/items?{query}")
    assert answer.status_code == 400
    message = answer.get_json()["message"]
    assert words in message["en"] and message["uk"] and message["uk"] != message["en"]


def test_unknown_layer_feature_and_hromada_are_404(client, demo_db):
    for url in ("/api/layers/nope", "/api/layers/nope/items", "/api/layers/hromadas/items/999999",
                "/api/layers/hromadas/items?hromada=UA99999999999999999", "/api/nothing-here"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.get_json()["message"]["en"], url
    assert client.get("/api/layers/hromadas/items/abc").status_code == 400


def test_a_connection_lost_in_the_pool_is_replaced_and_the_read_answered(client, demo_db):
    """Public reads take pooled connections without a ping first (webmap.database.connection); one that
    died meanwhile (the database restarted) is dropped and the read answered on a new one, never a 5xx."""
    import sqlalchemy as sa

    url = "/api/layers/settlements/items?limit=5"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["X-Database"] == "primary"
    with demo_db.connect() as conn:  # every other connection to the database ends, the app's pooled one too
        ended = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert ended >= 1
    again = client.get(url)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert client.get(url).status_code == 200
