"""Land inventory over HTTP and in Chromium: dashboard, QA page and downloads, parcel page, privacy."""
import csv
import io
import json
import math

import geopandas as gpd
import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from layers import land_qa
from tests.webmap.conftest import settle
from tests.webmap.test_accessibility import audit
from tests.webmap.test_reports_http import add_staff, log_in

CODE = "UA05020310000080026"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture
def person(demo_db):
    """A natural person holding a demo parcel (invented, but personal data as far as the code knows),
    with a staff note on the same parcel."""
    with demo_db.begin() as conn:
        row = conn.execute(sa.text("""
            SELECT id, holder_person, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM parcel
            WHERE holder_person IS NOT NULL ORDER BY id LIMIT 1""")).one()
        conn.execute(sa.text("UPDATE parcel SET staff_note = 'СЛУЖБОВА-ПРИМІТКА-42' WHERE id = :i"), {"i": row[0]})
    return {"id": row[0], "name": row[1], "lon": row[2], "lat": row[3]}


def test_natural_persons_names_are_in_no_public_output(client, person, tmp_path):
    secrets = (person["name"], "СЛУЖБОВА-ПРИМІТКА-42", "holder_person", "staff_note")
    # JSON answers are read as text with Cyrillic unescaped, so a name could not hide as \\u escapes.
    pages = ["/api/layers", "/api/layers/parcels", "/api/layers/parcels/items?limit=1000",
             f"/api/layers/parcels/items/{person['id']}", "/api/layers/parcels/export.geojson",
             "/api/layers/parcels/export.csv", "/api/layers/parcels/export.csv?headings=uk",
             "/api/layers/parcels/metadata.json", "/tiles/parcels.json",
             "/ogc/collections/parcels", "/ogc/collections/parcels/items?limit=10000",
             f"/ogc/collections/parcels/items/{person['id']}", "/ogc/collections/parcels/items?f=html&limit=500",
             "/ogc/collections/parcels/queryables", f"/map/{CODE}", f"/map/{CODE}?lang=en", f"/map/{CODE}/land",
             f"/map/{CODE}/land/qa", f"/map/{CODE}/land/qa.csv", f"/map/{CODE}/land/qa.geojson",
             f"/land/parcels/{person['id']}", f"/land/parcels/{person['id']}?lang=en",
             f"/api/hromadas/{CODE}/land/progress", f"/api/hromadas/{CODE}/land/qa"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        text = answer.get_data(as_text=True)
        text = text if not text.lstrip().startswith(("{", "[")) else json.dumps(json.loads(text), ensure_ascii=False)
        for secret in secrets:
            assert secret not in text, (path, secret)
    # The public still sees what kind of holder it is and the ownership form.
    item = client.get(f"/api/layers/parcels/items/{person['id']}").get_json()["properties"]
    assert item["holder_kind"] == "natural_person" and item["ownership_form"] == "private"

    gpkg = client.get("/api/layers/parcels/export.gpkg")
    assert gpkg.status_code == 200
    (tmp_path / "parcels.gpkg").write_bytes(gpkg.data)
    frame = gpd.read_file(tmp_path / "parcels.gpkg")
    assert len(frame) > 200 and "holder_person" not in frame.columns and "staff_note" not in frame.columns
    assert not frame.astype(str).apply(lambda c: c.str.contains(person["name"], regex=False)).any().any()

    found = 0
    for z in (10, 14, 17):
        x, y = _tile_of(person["lon"], person["lat"], z)
        answer = client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
        assert answer.status_code == 200
        for feature in mapbox_vector_tile.decode(answer.data)["parcels"]["features"]:
            found += 1
            assert "holder_person" not in feature["properties"] and "staff_note" not in feature["properties"]
            assert person["name"] not in json.dumps(feature["properties"], ensure_ascii=False)
    assert found > 0


def test_staff_of_the_right_role_see_the_names_in_the_generic_api(app, demo_db, person):
    planner = app.test_client()
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    log_in(planner, "planner@example.org")
    assert "holder_person" not in planner.get(f"/api/layers/parcels/items/{person['id']}").get_json()["properties"]
    client = app.test_client()
    add_staff(demo_db, "land@example.org", unit_code="housing")
    log_in(client, "land@example.org")
    item = client.get(f"/api/layers/parcels/items/{person['id']}").get_json()["properties"]
    assert item["holder_person"] == person["name"] and item["staff_note"] == "СЛУЖБОВА-ПРИМІТКА-42"
    page = client.get(f"/land/parcels/{person['id']}").get_data(as_text=True)
    assert person["name"] in page


def test_progress_and_qa_json_and_downloads(client, demo_db):
    progress = client.get(f"/api/hromadas/{CODE}/land/progress").get_json()
    assert 0.65 <= progress["total"]["share_parcels_done"] <= 0.75
    assert "Якушинці" in progress["villages"]
    qa = client.get(f"/api/hromadas/{CODE}/land/qa").get_json()
    assert qa["counts"]["gap"] == 1 and qa["counts"]["duplicate"] == 1 and qa["counts"]["outside"] == 1
    answer = client.get(f"/map/{CODE}/land/qa.csv?headings=en")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["kind", "problem", "cadastral_numbers"]
    assert {r[0] for r in rows[1:]} >= {"overlap", "outside", "gap", "duplicate", "area"}
    collection = client.get(f"/map/{CODE}/land/qa.geojson").get_json()
    assert len(collection["features"]) == len(rows) - 1 and all(f["geometry"] for f in collection["features"])


@pytest.mark.parametrize("path, status", [
    ("/map/UA123/land", 400), ("/map/UA12345678901234567/land", 404), (f"/map/{CODE}/land/qa.xml", 404),
    (f"/map/{CODE}/land/qa.csv?headings=fr", 400), ("/land/parcels/999999", 404), ("/land/parcels/abc", 404),
    ("/api/hromadas/UA123/land/progress", 400), ("/api/hromadas/UA12345678901234567/land/qa", 404),
])
def test_bad_input_is_a_bilingual_4xx(client, demo_db, path, status):
    answer = client.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == status
    body = answer.get_json()
    assert body["message"]["uk"] and body["message"]["en"]


def test_dashboard_renders_chart_legend_and_map_in_chromium(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{CODE}/land")
    settle(page)
    assert page.locator("h1").inner_text().startswith("Інвентаризація земель")
    legend = page.locator("figure.legend").inner_text()
    assert "інвентаризовано" in legend and "виявлено розбіжності" in legend
    bars = page.locator("figure.bars .bar[role=img]")
    assert bars.count() >= 14  # every village, the parcels outside them and the whole hromada
    assert "Якушинці" in page.locator("figure.bars").inner_text()
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator(".leaflet-overlay-pane path").count() > 200
    total = page.locator("tfoot").inner_text()
    assert "%" in total
    # The problem counts come once the map is up (checking a large inventory takes seconds).
    page.wait_for_selector("#land-qa-counts li")
    counts = page.inner_text("#land-qa-counts")
    assert f"{land_qa.KINDS['gap']['uk']}: 1" in counts and f"{land_qa.KINDS['duplicate']['uk']}: 1" in counts
    page.get_by_role("link", name="Усі проблеми й завантаження").click()
    settle(page)
    assert page.url.endswith(f"/map/{CODE}/land/qa")


def test_qa_page_lists_the_demo_problems_with_links_in_chromium(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{CODE}/land/qa?lang=en")
    settle(page)
    for kind in ("overlap", "outside", "gap", "duplicate", "area"):
        assert page.locator(f"tr.qa-{kind}").count() >= 1, kind
    duplicate = page.locator("tr.qa-duplicate").first
    links = duplicate.locator("a")
    assert links.count() == 2 and links.nth(0).inner_text() == links.nth(1).inner_text()
    links.nth(0).click()
    settle(page)
    assert "/land/parcels/" in page.url and "duplicate cadastral number" in page.content()
    assert page.locator(".leaflet-container").count() == 1


def test_land_pages_pass_axe(live_server, page, demo_db, person):
    for path in (f"/map/{CODE}/land", f"/map/{CODE}/land/qa", f"/land/parcels/{person['id']}"):
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}?lang={lang}") == [], (path, lang)
