"""Plans made and changed in the browser (issue #19): a planner creates a draft plan — its territory drawn
on the map, the whole hromada, or a settlement's boundary — lands in its zone editor and draws its first
zones; bad input (no title, a territory outside the hromada, an invalid outline) shows its errors beside
the fields and makes nothing; a plan's details and statuses change from its pages against the revision
read; another hromada's planner gets 403; axe and 320 px."""
import json
import re

import pytest
import sqlalchemy as sa

from gis.users import create_user
from tests.axe import violations
from tests.helpers import STRYZHAVKA, demo_hromada_id, inside, load_neighbours, one, scalar
from tests.layers.test_plans import D, square
from tests.webmap.conftest import browser_context, settle
from tests.webmap.reflow import OVERFLOW
from tests.webmap.test_accessibility import audit
from tests.webmap.test_plan_pages import KATOTTG, PASSWORD, browser_log_in
from tests.webmap.test_reports_http import form_token, log_in

NEW = f"/map/{KATOTTG}/plans/new"
PLANNER_NAME = "Оксана Планувальниця"


def add_planner(engine, email="planner@example.org", full_name=PLANNER_NAME, hromada_id=None):
    with engine.begin() as conn:
        create_user(conn, email, PASSWORD, ["planner"], hromada_id=hromada_id or demo_hromada_id(engine),
                    full_name=full_name)


def plan_count(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM plan")


def post_new(client, **fields):
    page = client.get(NEW).get_data(as_text=True)
    data = {"title": "", "plan_type": "detailed", "territory": "drawn", "area": "", "documents": "",
            "csrf_token": form_token(page), **fields}
    return client.post(NEW, data=data)


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="form-error" id="{field}-error">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def planner(demo_db):
    add_planner(demo_db)
    x, y = inside(demo_db, "Якушинці")
    return {"x": x, "y": y}


# --- over HTTP ---------------------------------------------------------------------------------------

def test_a_new_plan_needs_a_planner_of_that_hromada(client, demo_db, planner):
    anonymous = client.get(NEW)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    load_neighbours(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    add_planner(demo_db, "other@stryzhavka.example.org", "Чужий Планувальник", hromada_id=stryzhavka)
    log_in(client, "other@stryzhavka.example.org")
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, data={"title": "Чужий", "plan_type": "zoning", "territory": "hromada",
                                  "csrf_token": form_token(client.get(f"/map/{STRYZHAVKA}/plans/new")
                                                           .get_data(as_text=True))}).status_code == 403
    plan_id = scalar(demo_db, "SELECT min(id) FROM plan")
    assert client.get(f"/plans/{plan_id}/settings").status_code == 403
    assert plan_count(demo_db) == 2  # the demo's two

    log_in(client, "planner@example.org")
    page = client.get(NEW)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="csrf_token"' in html and 'id="territory-drawn"' in html and 'id="area"' in html
    assert "Якушинці" in html  # a settlement whose boundary is known
    for code in ("comprehensive", "general", "detailed", "zoning"):
        assert f'value="{code}"' in html
    assert "детальний план території" in html
    assert "detailed plan of a territory" in client.get(NEW + "?lang=en").get_data(as_text=True)
    listing = client.get(f"/map/{KATOTTG}/plans?lang=uk").get_data(as_text=True)
    assert f'href="{NEW}"' in listing
    no_token = client.post(NEW, data={"title": "Без токена", "plan_type": "zoning", "territory": "hromada"})
    assert no_token.status_code == 400 and plan_count(demo_db) == 2


def test_bad_input_shows_errors_beside_the_fields_and_makes_nothing(client, demo_db, planner):
    x, y = planner["x"], planner["y"]
    log_in(client, "planner@example.org")
    empty = post_new(client, title="  ", area=json.dumps(square(x, y)))
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400
    assert "Назва плану порожня" in field_error(html, "title")
    assert 'class="error-summary"' in html and 'href="#title"' in html
    assert 'aria-invalid="true"' in html
    missing = post_new(client, title="Детальний план")
    assert missing.status_code == 400 and "намалюйте територію" in field_error(missing.get_data(as_text=True), "area")
    outside = post_new(client, title="Поза громадою <script>", area=json.dumps(square(30.5, 50.4)))
    html = outside.get_data(as_text=True)
    assert outside.status_code == 422 and "за межі громади" in field_error(html, "area")
    assert "Поза громадою &lt;script&gt;" in html and "<script>alert" not in html  # kept, escaped
    pasted = re.search(r'<textarea[^>]*id="area"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert json.loads(pasted.strip().replace("&#34;", '"')) == square(30.5, 50.4)  # what was pasted stays
    not_json = post_new(client, title="Детальний план", area="{не json")
    assert not_json.status_code == 400 and "GeoJSON" in field_error(not_json.get_data(as_text=True), "area")
    settlement = post_new(client, title="Генплан", territory="settlement", settlement="")
    assert settlement.status_code == 400
    assert "населений пункт" in field_error(settlement.get_data(as_text=True), "settlement")
    bowtie = {"type": "Polygon", "coordinates": [[[x, y], [x + D, y + D], [x + D, y], [x, y + D], [x, y]]]}
    invalid = post_new(client, title="Детальний план", area=json.dumps(bowtie))
    html = invalid.get_data(as_text=True)
    assert invalid.status_code == 422 and "Виправити контур" in field_error(html, "area")
    assert 'id="repair"' in html  # the repair is offered, as in the zone editor
    assert plan_count(demo_db) == 2

    repaired = post_new(client, title="Детальний план", area=json.dumps(bowtie), repair="y")
    assert repaired.status_code == 303, repaired.get_data(as_text=True)
    plan_id = int(re.search(r"/plans/(\d+)/edit\?created=1", repaired.headers["Location"]).group(1))
    made = one(demo_db, "SELECT status, plan_type, ST_IsValid(geom) AS valid, GeometryType(geom) AS kind "
                        "FROM plan WHERE id = :p", p=plan_id)
    assert tuple(made) == ("draft", "detailed", True, "MULTIPOLYGON")
    editor = client.get(repaired.headers["Location"]).get_data(as_text=True)
    assert "План створено як проєкт" in editor


def test_whole_hromada_and_settlement_territories(client, demo_db, planner):
    log_in(client, "planner@example.org")
    hromada = post_new(client, title="Комплексний план 2", plan_type="comprehensive", territory="hromada")
    assert hromada.status_code == 303
    whole = int(re.search(r"/plans/(\d+)/", hromada.headers["Location"]).group(1))
    assert scalar(demo_db, "SELECT ST_Equals(p.geom, ST_Multi(h.boundary)) FROM plan p JOIN hromada h "
                           "ON h.id = p.hromada_id WHERE p.id = :p", p=whole)
    village = scalar(demo_db, "SELECT id FROM settlement WHERE name_uk = 'Якушинці'")
    general = post_new(client, title="Генплан Якушинців", plan_type="general", territory="settlement",
                       settlement=str(village), documents="Рішення № 1")
    assert general.status_code == 303
    plan_id = int(re.search(r"/plans/(\d+)/", general.headers["Location"]).group(1))
    covered = scalar(demo_db, """
        SELECT ST_Area(ST_SymDifference(p.geom, ST_Intersection(s.boundary, h.boundary))::geography)
        FROM plan p, settlement s, hromada h WHERE p.id = :p AND s.id = :s AND h.id = p.hromada_id""",
                     p=plan_id, s=village)
    assert covered < 1
    # The audit log (and the plan page, for planners) say who made it.
    entry = one(demo_db, "SELECT actor, action, detail FROM audit_log WHERE object = :o", o=f"plan:{plan_id}")
    assert entry.actor == PLANNER_NAME and entry.action == "plan.create" and entry.detail["territory"] == "settlement"
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert PLANNER_NAME in page and "Межі населеного пункту" in page
    other = scalar(demo_db, "SELECT id FROM settlement WHERE hromada_id <> :h LIMIT 1", h=demo_hromada_id(demo_db))
    if other is not None:  # another hromada's village is not this hromada's territory
        assert post_new(client, title="Чуже", territory="settlement", settlement=str(other)).status_code == 400


def test_details_and_statuses_change_from_the_plan_pages(client, demo_db, planner):
    x, y = planner["x"], planner["y"]
    log_in(client, "planner@example.org")
    made = post_new(client, title="Детальний план центру", area=json.dumps(square(x, y, 3 * D)))
    plan_id = int(re.search(r"/plans/(\d+)/", made.headers["Location"]).group(1))
    from layers import plans
    from tests.layers.test_plans import PLANNER

    with demo_db.begin() as conn:
        zone = plans.create_zone(conn, PLANNER, plan_id, {"zone_code": "Ж-1"}, square(x, y))
    settings = client.get(f"/plans/{plan_id}/settings")
    html = settings.get_data(as_text=True)
    assert settings.status_code == 200 and 'value="Детальний план центру"' in html
    revision = re.search(r'name="revision" type="hidden" value="([0-9a-f]+)"|'
                         r'id="revision" name="revision" type="hidden" value="([0-9a-f]+)"', html)
    revision = next(v for v in revision.groups() if v)
    base = {"csrf_token": form_token(html), "revision": revision, "title": "Детальний план центру села",
            "plan_type": "zoning", "territory": "keep", "documents": "", "reason": "уточнення"}

    # A territory that would leave the zone outside is refused beside the outline.
    shrunk = client.post(f"/plans/{plan_id}/settings",
                         data={**base, "territory": "drawn", "area": json.dumps(square(x + D, y + D))})
    assert shrunk.status_code == 422
    assert f"№{zone['id']}" in field_error(shrunk.get_data(as_text=True), "area")
    saved = client.post(f"/plans/{plan_id}/settings",
                        data={**base, "territory": "drawn", "area": json.dumps(square(x, y, 4 * D))})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/plans/{plan_id}?saved=1#plan-title")
    row = one(demo_db, "SELECT title, plan_type, ST_Area(geom::geography) AS m2 FROM plan WHERE id = :p", p=plan_id)
    assert row.title == "Детальний план центру села" and row.plan_type == "zoning"
    assert row.m2 == pytest.approx(scalar(demo_db, "SELECT ST_Area(ST_GeomFromGeoJSON(:g)::geography)",
                                          g=json.dumps(square(x, y, 4 * D))), rel=1e-6)
    # The form read before that save is stale now: 412, the current values beside the planner's.
    stale = client.post(f"/plans/{plan_id}/settings", data={**base, "title": "Інша назва"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 412 and "змінив інший планувальник" in html and 'id="current-title"' in html
    assert scalar(demo_db, "SELECT title FROM plan WHERE id = :p", p=plan_id) == "Детальний план центру села"

    # Statuses from the plan page: approval without a decision is refused beside its fields.
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Дані плану" in page and "уточнення" in page  # the link to the details and the change with its reason
    rev = re.search(r'name="revision" value="([0-9a-f]+)"', page).group(1)
    to_discussion = client.post(f"/plans/{plan_id}/status",
                                data={"status": "discussion", "revision": rev, "csrf_token": form_token(page)})
    assert to_discussion.status_code == 302
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    rev = re.search(r'name="revision" value="([0-9a-f]+)"', page).group(1)
    refused = client.post(f"/plans/{plan_id}/status", data={
        "status": "approved", "revision": rev, "decision_date": "20.11.2026", "csrf_token": form_token(page)})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "номер рішення" in field_error(html, "decision_number")
    assert "РРРР-ММ-ДД" in field_error(html, "decision_date")
    assert 'id="status-errors"' in html
    assert scalar(demo_db, "SELECT status FROM plan WHERE id = :p", p=plan_id) == "discussion"
    # In discussion the territory no longer changes; the title still does.
    settings = client.get(f"/plans/{plan_id}/settings").get_data(as_text=True)
    assert 'id="territory-drawn"' not in settings and "plan-territory-data" not in settings  # no map, no map script
    assert 'value="Детальний план центру села"' in settings
    approved = client.post(f"/plans/{plan_id}/status", data={
        "status": "approved", "revision": rev, "decision_number": "7/101", "decision_date": "2026-11-20",
        "csrf_token": form_token(page)})
    assert approved.status_code == 302
    assert tuple(one(demo_db, "SELECT status, decision_number FROM plan WHERE id = :p", p=plan_id)) == (
        "approved", "7/101")
    assert client.post(f"/plans/{plan_id}/settings", data={**base, "revision": ""}).status_code == 409
    with demo_db.connect() as conn:
        logged = conn.execute(sa.text("SELECT action FROM audit_log WHERE object = :o ORDER BY id"),
                              {"o": f"plan:{plan_id}"}).scalars().all()
    assert logged == ["plan.create", "plan.update", "plan.status", "plan.status"]


# --- in Chromium -------------------------------------------------------------------------------------

def map_pixel(page, handle: str, lon: float, lat: float):
    """The page pixel of a place on a map (``handle``: the page's JS name of it)."""
    return page.evaluate(f"""([lat, lon]) => {{
        const map = {handle}, p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }}""", [lat, lon])


def draw_square(page, handle: str, x: float, y: float, size: float) -> None:
    """Draw a square with Geoman's polygon tool: four corners, then the first again."""
    page.locator(".folium-map").scroll_into_view_if_needed()
    page.evaluate(f"() => {handle}.setView([{y + size / 2}, {x + size / 2}], 15, {{animate: false}})")
    page.click(".leaflet-pm-icon-polygon")
    corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    pixels = [map_pixel(page, handle, lon, lat) for lon, lat in corners]
    for px, py in pixels + pixels[:1]:
        page.mouse.click(px, py)
        page.wait_for_timeout(80)


def draw_first_zone(page, demo_db, plan_id: int, x: float, y: float) -> None:
    """In the zone editor: draw a zone, fill its form, save; the zone is in the database."""
    page.wait_for_function("() => window.planEditor && window.planEditor.map")
    draw_square(page, "window.planEditor.map", x, y, D)
    page.wait_for_function("() => document.getElementById('zone-form-title').textContent.includes('Нова зона')")
    page.select_option("#zone_code", "Ж-1")
    page.fill("#zone_name", "Перша зона")
    page.fill("#reason", "перша зона нового плану")
    page.click("#zone-save")
    page.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Зону створено')")


def test_a_planner_draws_a_plan_and_its_first_zone(live_server, page, demo_db, planner):
    x, y = planner["x"], planner["y"]
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_log_in(page, live_server, "planner@example.org", f"/map/{KATOTTG}/plans")
    page.click(f'a[href="{NEW}"]')
    page.wait_for_function("() => window.planTerritory && window.planTerritory.map")
    page.fill("#title", "Детальний план кварталу біля школи")
    page.select_option("#plan_type", "detailed")
    draw_square(page, "window.planTerritory.map", x, y, 3 * D)
    page.wait_for_function("() => document.getElementById('area').value.includes('Polygon')")
    assert page.is_checked("#territory-drawn")  # drawing chose "drawn on the map"
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(re.compile(r"/plans/\d+/edit\?created=1$"))
    plan_id = int(re.search(r"/plans/(\d+)/edit", page.url).group(1))
    assert "План створено як проєкт" in page.inner_text("main")
    made = one(demo_db, "SELECT title, plan_type, status, ST_Area(geom::geography) AS m2 FROM plan WHERE id = :p",
               p=plan_id)
    assert (made.title, made.plan_type, made.status) == ("Детальний план кварталу біля школи", "detailed", "draft")
    expected = scalar(demo_db, "SELECT ST_Area(ST_GeomFromGeoJSON(:g)::geography)", g=json.dumps(square(x, y, 3 * D)))
    assert made.m2 == pytest.approx(expected, rel=0.03)  # the square drawn, within a pixel or so

    draw_first_zone(page, demo_db, plan_id, x + D / 2, y + D / 2)
    zone = one(demo_db, "SELECT id, zone_code, name, version FROM plan_zone WHERE plan_id = :p", p=plan_id)
    assert (zone.zone_code, zone.name, zone.version) == ("Ж-1", "Перша зона", 1)
    # Its history names the planner (as the history page does).
    assert scalar(demo_db, "SELECT author FROM plan_zone_version WHERE zone_id = :z", z=zone.id) == PLANNER_NAME
    page.goto(f"{live_server}/plans/zones/{zone.id}/history")
    assert PLANNER_NAME in page.inner_text("ol.zone-versions") and "перша зона нового плану" in page.inner_text("main")
    assert errors == []


def tab_to(page, test: str, limit=120):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(test):
            return
    raise AssertionError(f"never reached {test}")


def test_the_whole_hromada_or_a_settlement_by_keyboard_then_zones(live_server, page, demo_db, planner):
    x, y = planner["x"], planner["y"]
    browser_log_in(page, live_server, "planner@example.org", NEW)
    page.wait_for_function("() => window.planTerritory && window.planTerritory.map")
    # The whole hromada, with the mouse: no map needed.
    page.fill("#title", "Комплексний план громади (другий)")
    page.select_option("#plan_type", "comprehensive")
    page.check("#territory-hromada")
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(re.compile(r"/plans/\d+/edit\?created=1$"))
    whole = int(re.search(r"/plans/(\d+)/edit", page.url).group(1))
    assert scalar(demo_db, "SELECT ST_Equals(p.geom, ST_Multi(h.boundary)) FROM plan p JOIN hromada h "
                           "ON h.id = p.hromada_id WHERE p.id = :p", p=whole)
    draw_first_zone(page, demo_db, whole, x, y)
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE plan_id = :p", p=whole) == 1

    # A settlement's boundary, with the keyboard alone.
    page.goto(f"{live_server}{NEW}")
    page.focus("body")
    tab_to(page, "document.activeElement.id === 'title'")
    page.keyboard.type("Генеральний план Якушинців")
    tab_to(page, "document.activeElement.id === 'plan_type'")
    page.keyboard.press("ArrowDown")  # comprehensive → general
    assert page.input_value("#plan_type") == "general"
    tab_to(page, "document.activeElement.name === 'territory'")
    while page.evaluate("document.activeElement.id") != "territory-settlement":
        page.keyboard.press("ArrowDown")
    assert page.is_checked("#territory-settlement")
    tab_to(page, "document.activeElement.id === 'settlement'")
    village = scalar(demo_db, "SELECT id FROM settlement WHERE name_uk = 'Якушинці'")
    for _ in range(30):
        if page.input_value("#settlement") == str(village):
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("#settlement") == str(village)
    tab_to(page, "document.activeElement.type === 'submit' && document.activeElement.form.id === 'plan-form'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/plans/\d+/edit\?created=1$"))
    general = int(re.search(r"/plans/(\d+)/edit", page.url).group(1))
    assert tuple(one(demo_db, "SELECT title, plan_type FROM plan WHERE id = :p", p=general)) == (
        "Генеральний план Якушинців", "general")
    draw_first_zone(page, demo_db, general, x, y)
    assert scalar(demo_db, "SELECT author FROM plan_zone_version v JOIN plan_zone z ON z.id = v.zone_id "
                           "WHERE z.plan_id = :p", p=general) == PLANNER_NAME


def test_bad_input_in_the_browser_and_another_hromadas_planner(live_server, page, browser, demo_db, planner):
    browser_log_in(page, live_server, "planner@example.org", NEW)
    page.wait_for_function("() => window.planTerritory && window.planTerritory.map")
    page.click("#plan-form button[type=submit]")  # nothing filled in
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"  # the keyboard starts at the summary
    assert page.title().startswith("Помилка")
    assert "обов'язкове поле" in page.inner_text("#title-error")
    page.click('#error-summary a[href="#title"]')
    assert page.evaluate("document.activeElement.id") == "title"
    # A territory outside the hromada, pasted as GeoJSON: refused beside the outline, drawn on the map.
    page.fill("#title", "Поза громадою")
    page.check("#territory-drawn")
    page.fill("#area", json.dumps(square(30.5, 50.4)))
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#area-error")
    assert "за межі громади" in page.inner_text("#area-error")
    assert page.input_value("#title") == "Поза громадою"  # what was typed is kept
    assert page.evaluate("window.planTerritory.drawn.getLayers().length") == 1
    assert plan_count(demo_db) == 2

    load_neighbours(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    add_planner(demo_db, "other@stryzhavka.example.org", "Чужий Планувальник", hromada_id=stryzhavka)
    context = browser_context(browser)
    try:
        other = context.new_page()
        browser_log_in(other, live_server, "other@stryzhavka.example.org", f"/map/{STRYZHAVKA}/plans")
        answer = other.goto(f"{live_server}{NEW}")
        assert answer.status == 403
    finally:
        context.close()


def test_plan_forms_pass_axe_and_fit_320_px(live_server, browser, page, demo_db, planner):
    x, y = planner["x"], planner["y"]
    browser_log_in(page, live_server, "planner@example.org", NEW)
    page.fill("#title", "Детальний план")
    page.check("#territory-drawn")
    page.fill("#area", json.dumps(square(x, y, 2 * D)))
    page.click("#plan-form button[type=submit]")
    page.wait_for_url(re.compile(r"/plans/\d+/edit\?created=1$"))
    plan_id = int(re.search(r"/plans/(\d+)/edit", page.url).group(1))
    paths = [NEW, f"/plans/{plan_id}/settings", f"/plans/{plan_id}", f"/plans/{plan_id}/edit?created=1",
             f"/map/{KATOTTG}/plans"]
    for path in paths:
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}") == [], (path, lang)
    # Refused forms too: the errors beside the fields and the summary.
    for lang in ("uk", "en"):
        page.goto(f"{live_server}{NEW}?lang={lang}")
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#error-summary")
        found = [v["id"] for v in violations(page)]
        assert found == [], (lang, found)
    # A refused approval on the plan page (its reasons beside the decision's fields), and a stale settings form.
    page.goto(f"{live_server}/plans/{plan_id}?lang=uk")
    page.click("form.status-form button[type=submit]")  # draft → discussion
    page.wait_for_load_state()
    page.click("form.status-form:has(#decision_number) button[type=submit]")
    page.wait_for_selector("#status-errors")
    assert page.evaluate("document.activeElement.id") == "status-errors"
    assert "номер рішення" in page.inner_text("#decision_number-error")
    found = [v["id"] for v in violations(page)]
    assert found == [], found

    context = browser_context(browser, viewport={"width": 320, "height": 640})
    try:
        narrow = context.new_page()
        browser_log_in(narrow, live_server, "planner@example.org", NEW)
        for path in paths:
            narrow.goto(f"{live_server}{path}")
            settle(narrow)
            result = narrow.evaluate(OVERFLOW)
            assert result["scrollWidth"] <= 320 and not result["wide"], (path, result)
        # A refused form at 320 px: the summary and the errors fit too.
        narrow.goto(f"{live_server}{NEW}")
        narrow.click("#plan-form button[type=submit]")
        narrow.wait_for_selector("#error-summary")
        result = narrow.evaluate(OVERFLOW)
        assert result["scrollWidth"] <= 320 and not result["wide"], result
    finally:
        context.close()
