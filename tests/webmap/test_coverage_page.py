"""The "Інтернет-покриття" page in Chromium: choropleth, ranked table, chart, downloads, the speed form."""
import csv
import io
import json
import re

import pytest
import sqlalchemy as sa

from layers import coverage_analysis
from tests.helpers import inside, scalar
from tests.webmap.test_reports_http import add_staff

CODE = "UA05020310000080026"


@pytest.fixture
def analysed(demo_db):
    with demo_db.begin() as conn:
        hromada_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": CODE}).scalar()
        coverage_analysis.analyse(conn, hromada_id, hex_size_m=1500)
    return demo_db


def test_page_before_any_analysis_says_so(client, demo_db):
    page = client.get(f"/map/{CODE}/coverage")
    assert page.status_code == 200 and "ще не розраховано" in page.get_data(as_text=True)
    assert client.get(f"/api/hromadas/{CODE}/coverage").status_code == 404
    assert client.get(f"/map/{CODE}/coverage?zones=districts").status_code == 400


def test_coverage_page_ranks_villages_and_offers_downloads(live_server, page, analysed):
    page.goto(f"{live_server}/map/{CODE}/coverage")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive", state="attached")
    assert page.locator("path.leaflet-interactive").count() == 14  # one per village
    rows = page.locator("#ranked-title ~ .table-scroll table tbody tr")
    assert rows.count() == 14
    gaps = [cell.inner_text() for cell in rows.locator("td:nth-child(2)").all()]
    numbers = [float(g.rstrip(" %")) for g in gaps if g != "—"]
    assert numbers == sorted(numbers, reverse=True) and numbers[0] > numbers[-1]  # worst first, and they differ
    assert page.locator(".bars .bar").count() == 14
    assert page.locator(".bars .bar").first.get_attribute("aria-label").startswith(
        rows.first.locator("th").inner_text())
    # Hex cells instead of villages.
    page.get_by_role("link", name="Шестикутники").click()
    page.wait_for_url("**zones=hex")
    assert page.locator("path.leaflet-interactive").count() == scalar(
        analysed, "SELECT count(*) FROM coverage_result WHERE zone_kind = 'hex'")


def test_hex_cells_are_named_by_the_village_they_lie_in_or_near(client, analysed):
    """Issue #17: "Комірка 259,3157" told nobody where the cell is."""
    with analysed.connect() as conn:
        villages = set(conn.execute(sa.text("SELECT name_uk FROM settlement")).scalars())
    html = client.get(f"/map/{CODE}/coverage?zones=hex").get_data(as_text=True)
    names = re.findall(r'<tr><th scope="row">([^<]+)</th>', html)
    assert len(names) == scalar(analysed, "SELECT count(*) FROM coverage_result WHERE zone_kind = 'hex'")
    assert len(set(names)) == len(names)  # each cell its own name
    for name in names:
        village, _, number = name.rpartition(", комірка ")
        assert village in villages and number.isdigit(), name
    english = client.get(f"/map/{CODE}/coverage?zones=hex&lang=en").get_data(as_text=True)
    assert re.search(r'<th scope="row">[^<]+, cell \d+</th>', english)


def test_downloads_match_the_stored_results(client, analysed):
    with analysed.connect() as conn:
        stored = dict(conn.execute(sa.text(
            "SELECT name, area_unserved FROM coverage_result WHERE zone_kind = 'settlement'")).all())
    body = client.get(f"/api/hromadas/{CODE}/coverage/results.geojson")
    assert body.mimetype == "application/geo+json"
    features = json.loads(body.get_data())["features"]
    assert {f["properties"]["name"]: f["properties"]["area_unserved"] for f in features} == stored
    table = client.get(f"/api/hromadas/{CODE}/coverage/results.csv?headings=uk").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(table.lstrip("\ufeff"))))
    assert len(rows) == 14 and "Назва" in rows[0]
    assert client.get(f"/api/hromadas/{CODE}/coverage/results.xlsx").status_code == 404


def test_only_admins_and_planners_recompute(client, analysed):
    from tests.webmap.test_reports_http import csrf, log_in

    runs = scalar(analysed, "SELECT count(*) FROM coverage_run")
    assert client.post(f"/map/{CODE}/coverage/analyse", data={"csrf_token": csrf(client)}).status_code == 302  # log in
    add_staff(analysed, "kp@example.org", "kp_blagoustrij")
    log_in(client, "kp@example.org")
    assert client.post(f"/map/{CODE}/coverage/analyse", data={"csrf_token": csrf(client)}).status_code == 403
    assert scalar(analysed, "SELECT count(*) FROM coverage_run") == runs


def test_resident_sends_a_speed_measurement_from_the_page(live_server, page, analysed):
    lon, lat = inside(analysed, "Лисянка")
    page.goto(f"{live_server}/map/{CODE}/coverage")
    page.fill("#speed-lat", f"{lat:.6f}")
    page.fill("#speed-lon", f"{lon:.6f}")
    page.fill("#down_mbps", "12,5")  # a decimal comma, as people type it
    page.fill("#up_mbps", "2")
    page.select_option("#network", "fixed")
    page.click("#speed-submit")
    page.locator("#speed-result").wait_for(state="visible")
    assert scalar(analysed, "SELECT down_kbps FROM speed_test WHERE source = 'resident'") == 12500
    page.fill("#speed-lat", "50.45")
    page.fill("#speed-lon", "30.52")
    page.fill("#down_mbps", "5")
    page.fill("#up_mbps", "1")
    page.click("#speed-submit")
    page.wait_for_function("() => document.getElementById('speed-error').textContent.length > 0")
    assert "не належить жодній громаді" in page.inner_text("#speed-error")
