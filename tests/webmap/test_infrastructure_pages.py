"""The road-condition and street-lighting pages, and choosing the lamp that is out, in Chromium."""
import re

import sqlalchemy as sa

from tests.helpers import asset_point, scalar
from tests.webmap.conftest import settle

CODE = "UA05020310000080026"


def test_roads_page_shows_the_legend_and_kilometres(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{CODE}/roads")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive", state="attached")
    legend = page.locator("figure.legend").inner_text()
    assert all(word in legend for word in ("відмінний", "добрий", "задовільний", "незадовільний", "аварійний"))
    rows = page.locator("table tbody tr")
    assert rows.count() == 14  # every demo village has streets
    total = page.locator("table tfoot td").last.inner_text()
    expected = scalar(demo_db, "SELECT sum(ST_Length(geom::geography)) / 1000 FROM road_segment")
    assert "," in total and abs(float(total.replace(",", ".")) - expected) < 0.01  # Ukrainian: a decimal comma
    # The segments are drawn in their condition's colour.
    colours = set(page.evaluate("""() => [...document.querySelectorAll('.leaflet-overlay-pane path')]
                                  .map(p => p.getAttribute('stroke'))"""))
    assert {"#c92a2a", "#e67700"} & colours


def test_lighting_page_lists_dark_streets_and_recomputes_with_another_reach(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{CODE}/lighting?lang=en")
    page.wait_for_selector(".leaflet-container")
    dark = page.locator("#dark-title").inner_text()
    assert re.search(r"Streets with no working light \((\d+)\)", dark)
    assert "вул. Садова" in page.locator("section[aria-labelledby=dark-title]").inner_text()
    before = page.locator("table tbody tr").first.locator("td").last.inner_text()
    page.fill("#reach", "150")
    page.get_by_role("button", name="Recompute").click()
    page.wait_for_url(re.compile(r"reach=150"))
    after = page.locator("table tbody tr").first.locator("td").last.inner_text()
    assert int(after.rstrip(" %")) >= int(before.rstrip(" %"))
    bad = page.goto(f"{live_server}/map/{CODE}/lighting?reach=-3")
    assert bad.status == 400 and "from 5 to 200 m" in page.content()  # the language chosen earlier stays


def test_resident_chooses_which_lamp_is_out(live_server, page, demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-container")
    page.fill("#lat", str(lat))
    page.fill("#lon", str(lon))
    page.dispatch_event("#lon", "change")
    page.wait_for_selector("#category[data-loaded-for]")
    page.select_option("#category", "street_light_out")
    page.wait_for_selector("#asset-choice:not([hidden])")
    settle(page)
    options = page.locator("#asset_id option").all_inner_texts()
    assert options[0].startswith("найближчий") and options[1].startswith("№ 301")
    lamp_302 = scalar(demo_db, "SELECT id FROM street_lamp WHERE ref = '302'")
    page.select_option("#asset_id", str(lamp_302))
    page.fill("#description", "Не світить другий ліхтар від перехрестя")
    page.click("#submit-report")
    page.locator("#report-result").wait_for(state="visible")
    assert "Ліхтар №302" in page.inner_text("#report-result")
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM street_lamp WHERE ref = '302'")).scalar() == "faulty"
        assert conn.execute(sa.text("SELECT status FROM street_lamp WHERE ref = '301'")).scalar() == "working"


def test_staff_record_an_inspection_and_anyone_reads_the_history(client, demo_db):
    from tests.webmap.test_reports_http import add_staff, csrf, log_in

    segment = scalar(demo_db, "SELECT id FROM road_segment WHERE ref = 'M-DEMO'")
    url = f"/api/road-segments/{segment}/inspections"
    fields = {"condition": "2", "pci": "41", "inspected_on": "2026-11-25", "note": "Вибоїни після зими"}
    assert client.post(url, data={**fields, "csrf_token": csrf(client)}).status_code == 401  # an API: sign in first
    add_staff(demo_db, "roads@example.org", "housing")
    log_in(client, "roads@example.org")
    bad = client.post(url, data={**fields, "condition": "6", "pci": "140"}, headers={"X-CSRFToken": csrf(client)})
    assert bad.status_code == 400 and "від 1 (аварійний) до 5" in bad.get_json()["message"]["uk"]
    assert client.post(url, data=fields, headers={"X-CSRFToken": csrf(client)}).status_code == 201
    history = client.get(url).get_json()["inspections"]
    assert history[0] == {"kind": "inspection", "inspected_on": "2026-11-25", "condition": "2", "pci": 41.0,
                          "note": "Вибоїни після зими", "report_code": None}
    assert scalar(demo_db, "SELECT condition FROM road_segment WHERE id = :i", i=segment) == "2"
    assert client.get("/api/road-segments/999999/inspections").status_code == 404


def test_staff_resolve_a_pothole_and_record_the_repair_on_its_segment(client, demo_db):
    from tests.webmap.test_reports_http import add_staff, log_in, staff_post, submit

    lon, lat = asset_point(demo_db, "road_segment", "вул. Садова")
    code = submit(client, lat=lat, lon=lon, category="pothole", description="Яма біля школи").get_json()["code"]
    segment = scalar(demo_db, "SELECT asset_id FROM report WHERE code = :c", c=code)
    add_staff(demo_db, "housing@example.org", "housing")
    log_in(client, "housing@example.org")
    page = client.get(f"/staff/reports/{code}").get_data(as_text=True)
    assert 'id="repair_condition"' in page and "вул. Садова" in page
    # A repair without resolving is refused and changes nothing.
    refused = staff_post(client, code, "status", status="in_progress", repair_condition="5")
    assert refused.status_code == 409
    assert scalar(demo_db, "SELECT status FROM report WHERE code = :c", c=code) == "new"
    assert staff_post(client, code, "status", status="resolved", public_note="Залатали",
                      repair_condition="5").status_code == 302
    assert scalar(demo_db, "SELECT condition FROM road_segment WHERE id = :i", i=segment) == "5"
    history = client.get(f"/api/road-segments/{segment}/inspections").get_json()["inspections"]
    assert history[0]["kind"] == "repair" and history[0]["report_code"] == code
