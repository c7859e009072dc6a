"""Reconstruction pages in Chromium, the open-data downloads and the planners' JSON API."""
import csv
import io
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PIL import Image

from layers import reconstruction as rc
from tests.helpers import scalar
from tests.webmap.conftest import settle
from tests.webmap.test_accessibility import audit

CODE = "UA05020310000080026"
CLINIC = "Ремонт покрівлі амбулаторії в Дашківцях (демо)"


def project_id(engine, title: str) -> int:
    return scalar(engine, "SELECT id FROM reconstruction_project WHERE title_uk = :t", t=title)


def normal(text: str) -> str:
    """Page text with the narrow and plain no-break spaces of UAH amounts as plain spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_analytics_page_in_chromium_has_map_legend_totals_charts_and_timeline(live_server, page, demo_db):
    with demo_db.connect() as conn:
        data = rc.analytics(conn, scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=CODE))
    page.goto(f"{live_server}/map/{CODE}/reconstruction?lang=en")
    settle(page)
    assert page.locator("h1").inner_text().startswith("Reconstruction")
    legend = page.locator("figure.legend").inner_text()
    for words in ("damage recorded", "design", "procurement", "construction", "commissioning", "cancelled"):
        assert words in legend
    # six project markers and the outlines of four of them (two buildings, a water main, a street)
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 6
    assert page.locator(".leaflet-footprints-pane path.leaflet-interactive").count() == 4
    assert page.locator("#rc-count").inner_text() == "6"
    assert normal(page.locator("#rc-budget").inner_text()) == "UAH 52,870,000.00"
    assert normal(page.locator("#rc-spent").inner_text()).startswith(f"UAH {data['totals']['spent']:,.2f}")
    stages = page.locator("table.rc-by-stage tbody tr")
    assert stages.count() == 9
    row = normal(page.locator("table.rc-by-stage tr[data-stage='construction']").inner_text())
    assert "1" in row and "UAH 8,450,000.00" in row
    fund = page.locator("table.rc-by-source tr[data-source='liquidation_fund']")
    assert "UAH 2,140,000.00" in normal(fund.inner_text())
    charts = page.locator("figure.rc-chart")
    assert charts.count() == 5  # money, stages, sectors, sources, timeline
    widths = page.locator("#rc-money-chart .bar > span").evaluate_all("els => els.map(e => e.style.width)")
    assert widths == [f"{float(data['totals'][k] / data['totals']['budget'] * 100):.2f}%"
                      for k in ("available", "disbursed", "spent")]
    assert page.locator(".rc-timeline .bar-row").count() == len(data["timeline"]) > 5
    latest = page.locator("ol.rc-events li").first  # the date in Babel's English, the ISO date for machines
    assert latest.inner_text().startswith("Sep 15, 2025")
    assert latest.locator("time").get_attribute("datetime") == "2025-09-15"
    assert page.locator("table.rc-projects tbody tr").count() == 6
    assert page.locator("table.rc-projects tr[data-status='cancelled']").count() == 1
    page.click("text=Roof repair of the Dashkivtsi outpatient clinic (demo)")
    settle(page)
    assert page.locator("h1").inner_text() == "Roof repair of the Dashkivtsi outpatient clinic (demo)"


def test_project_page_shows_its_history_photos_money_tenders_and_damage(live_server, page, demo_db):
    pid = project_id(demo_db, CLINIC)
    shot = io.BytesIO()
    Image.new("RGB", (300, 200), (150, 60, 40)).save(shot, format="JPEG")
    with demo_db.begin() as conn:
        rc.add_photo(conn, pid, "damage_recorded", shot.getvalue(), caption="Покрівля після влучання (демо)")
        rc.add_photo(conn, pid, "commissioning", shot.getvalue())
    page.goto(f"{live_server}/projects/{pid}")
    settle(page)
    assert page.locator("h1").inner_text() == CLINIC
    items = page.locator("ol.rc-history > li")
    assert [items.nth(i).get_attribute("data-stage") for i in range(items.count())] == list(rc.STAGE_ORDER)
    assert items.first.locator("time").get_attribute("datetime") == "2023-05-14"
    assert "Пошкодження уламками (демо)" in items.first.inner_text()
    assert normal(items.last.locator("time").inner_text()) == "28 жовт. 2024 р."
    assert items.first.locator("img").get_attribute("alt") == "Покрівля після влучання (демо)"
    assert items.last.locator("img").get_attribute("alt") == "Фото етапу «введення в експлуатацію», 2"
    assert items.nth(3).locator("img").count() == 0
    assert items.first.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert normal(page.locator("#project-budget").inner_text()) == "2 140 000,00 ₴"
    assert normal(page.locator("#funding-spent").inner_text()) == "2 118 500,00 ₴"
    assert "Фонд ліквідації" in page.locator("table.rc-funding").inner_text()
    tender = page.locator("ul.rc-tenders a")
    assert tender.get_attribute("href") == "https://prozorro.gov.ua/tender/UA-2024-02-19-004512-a"
    assert page.locator("ul.rc-damage").inner_text() == "РПМ-05-2023-000417 (демо)"
    assert "Відділ соціального захисту" in page.locator("dl.facts").inner_text()
    assert audit(page, f"{live_server}/projects/{pid}?lang=en") == []


def test_downloads_carry_exact_money_and_footprints(client, demo_db):
    pid = project_id(demo_db, CLINIC)
    answer = client.get(f"/api/hromadas/{CODE}/reconstruction/projects.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    clinic = next(r for r in rows if int(r["id"]) == pid)
    assert (clinic["budget"], clinic["spent"], clinic["spent_liquidation_fund"], clinic["tenders"]) == (
        "2140000.00", "2118500.00", "2118500.00", "UA-2024-02-19-004512-a")
    assert sum(Decimal(r["spent"]) for r in rows) == Decimal("6411046.00")
    geo = client.get(f"/api/hromadas/{CODE}/reconstruction/projects.geojson")
    assert geo.mimetype == "application/geo+json"
    kinds = sorted(f["geometry"]["type"] for f in json.loads(geo.data)["features"])
    assert kinds == ["LineString", "LineString", "Point", "Point", "Polygon", "Polygon"]
    summary = client.get(f"/api/hromadas/{CODE}/reconstruction").get_json()
    assert summary["totals"]["budget"] == "52870000.00" and summary["currency"] == "UAH"
    assert client.get(f"/api/hromadas/{CODE}/reconstruction/projects.xlsx").status_code == 404
    one = client.get(f"/api/projects/{pid}").get_json()
    assert one["funding"]["total"]["spent"] == "2118500.00" and "by_user_id" not in json.dumps(one)
    for path in ("/projects/999999", "/projects/not-a-project", "/projects/DREAM-UA-999999-00000000", "/projects/²",
                 "/api/projects/0", "/map/UA00000000000000000/reconstruction"):
        assert client.get(path).status_code == 404, path


def test_planners_change_stages_and_funding_over_json(app, client, demo_db):
    from tests.webmap.test_reports_http import add_staff, csrf, log_in

    pid = project_id(demo_db, "Енергоефективне вуличне освітлення Зарванців (демо)")
    url = f"/api/projects/{pid}"
    assert client.post(f"{url}/stage", json={"stage": "procurement"},
                       headers={"X-CSRFToken": csrf(client)}).status_code == 401  # sign in first
    add_staff(demo_db, "kp@example.org", "kp_blagoustrij")
    log_in(client, "kp@example.org")
    assert client.post(f"{url}/stage", json={"stage": "procurement"},
                       headers={"X-CSRFToken": csrf(client)}).status_code == 403  # unit staff may not
    client = app.test_client()
    add_staff(demo_db, "plan@example.org", roles=("planner",))
    log_in(client, "plan@example.org")
    token = csrf(client)
    assert client.post(f"{url}/stage", json={"stage": "procurement"}).status_code == 400  # no CSRF token
    moved = client.post(f"{url}/stage", json={"stage": "procurement", "note": "Оголошено закупівлю"},
                        headers={"X-CSRFToken": token})
    assert moved.status_code == 200 and moved.get_json()["status"] == "active"
    assert moved.get_json()["history"][-1]["note"] == "Оголошено закупівлю"
    back = client.post(f"{url}/stage", json={"stage": "idea"}, headers={"X-CSRFToken": token})
    assert back.status_code == 409
    assert back.get_json()["error"] == "conflict" and "назад" in back.get_json()["message"]["uk"]
    for bad in ({"stage": "demolition"}, {}, {"stage": "construction", "at": "вчора"}):
        answer = client.post(f"{url}/stage", json=bad, headers={"X-CSRFToken": token})
        assert answer.status_code == 400 and answer.get_json()["message"]["en"], bad
    form = client.post(f"{url}/funding", data={"source": "donors", "available": "250 000,50", "disbursed": "100000",
                                               "spent": "99999.99", "party": "Фонд <script>x</script>"},
                       headers={"X-CSRFToken": token})
    assert form.status_code == 201
    assert form.get_json()["funding"]["total"]["available"] == "1230000.50"
    over = client.post(f"{url}/funding", json={"source": "donors", "available": 10, "disbursed": 20},
                       headers={"X-CSRFToken": token})
    assert over.status_code == 400 and "exceeds available" in over.get_json()["message"]["en"]
    assert client.post(f"{url}/funding", json=[1], headers={"X-CSRFToken": token}).status_code == 400
    assert client.post("/api/projects/999999/stage", json={"stage": "design"},
                       headers={"X-CSRFToken": token}).status_code == 404
    html = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert "Фонд &lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT by_user_id IS NOT NULL FROM project_stage WHERE project_id = :p "
                                    "ORDER BY id DESC LIMIT 1"), {"p": pid}).scalar()


@pytest.mark.parametrize("lang", ["uk", "en"])
def test_analytics_page_passes_axe(live_server, page, demo_db, lang):
    assert audit(page, f"{live_server}/map/{CODE}/reconstruction?lang={lang}") == []
