"""Spatial plans in the browser (issue #9): Chromium draws a zone, edits it and reads its history; a
second planner's stale edit ends in the conflict view and a merge; keyboard-only editing and revert;
drafts hidden; comments moderated; the editor's JSON endpoints keep the rules; axe on every page."""
import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from layers import plans
from tests.helpers import one, scalar
from tests.layers.test_plans import PLANNER, D, act, plan, square  # noqa: F401  (plan: a fixture)
from tests.webmap.conftest import browser_context
from tests.webmap.test_accessibility import audit
from tests.webmap.test_reports_http import add_staff, csrf, form_token, log_in


def kyiv_today() -> dt.date:
    """Dates on plan pages are Kyiv's: between 22:00 and 24:00 UTC it is already tomorrow there."""
    return dt.datetime.now(ZoneInfo("Europe/Kyiv")).date()

KATOTTG = "UA05020310000080026"
PASSWORD = "correct horse battery"


@pytest.fixture
def draft(demo_db, plan):
    """test_plans' draft plan, retitled with markup, and one zone whose name carries markup too."""
    plan_id, x, y = plan
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE plan SET title = 'Генплан <i>тестовий</i>' WHERE id = :p"), {"p": plan_id})
        zone = plans.create_zone(conn, PLANNER, plan_id, {"zone_code": "Ж-1", "name": "Центр <b>жирний</b>"},
                                 square(x, y), reason="перша редакція")
    return {"plan": plan_id, "zone": zone["id"], "x": x, "y": y}


def json_call(client, method, url, body=None, **kw):
    return client.open(url, method=method, json=body,
                       headers={"X-CSRFToken": csrf(client), "Accept": "application/json"}, **kw)


# --- over HTTP ---------------------------------------------------------------------------------------

def test_drafts_are_404_for_the_public_and_published_plans_are_shown(client, draft):
    plan_id, zone_id = draft["plan"], draft["zone"]
    assert client.get(f"/plans/{plan_id}").status_code == 404
    assert client.get(f"/plans/zones/{zone_id}/history").status_code == 404
    assert client.get(f"/plans/zones/{zone_id}/versions/1.geojson").status_code == 404
    assert client.get(f"/plans/{plan_id}?as_of=2030-01-01").status_code == 404
    editor = client.get(f"/plans/{plan_id}/edit")
    assert editor.status_code == 302 and "/staff/login" in editor.headers["Location"]
    listing = client.get(f"/map/{KATOTTG}/plans").get_data(as_text=True)
    assert "тестовий" not in listing and "(проєкт, демо)" not in listing  # neither draft
    assert "Генеральний план села" in listing and "27/512 (демо)" in listing  # the demo's approved plan
    assert json_call(client, "PATCH", f"/plans/zones/{zone_id}", {"version": 1, "attributes": {"name": "x"}}
                     ).status_code == 401  # JSON: sign in first
    assert f"/map/{KATOTTG}/plans" in client.get(f"/map/{KATOTTG}").get_data(as_text=True)  # the thematic nav

    act(client.application.extensions["hromada_engine"], plans.set_plan_status, plan_id, "discussion", PLANNER)
    page = client.get(f"/plans/{plan_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Центр &lt;b&gt;жирний&lt;/b&gt;" in html and "<b>жирний" not in html  # escaped in the table
    assert "Генплан &lt;i&gt;тестовий&lt;/i&gt;" in html
    assert "тестовий" in client.get(f"/map/{KATOTTG}/plans").get_data(as_text=True)
    assert "перша редакція" in client.get(f"/plans/zones/{zone_id}/history").get_data(as_text=True)
    feature = client.get(f"/plans/zones/{zone_id}/versions/1.geojson").get_json()
    assert feature["geometry"]["type"] == "MultiPolygon" and feature["properties"]["reason"] == "перша редакція"
    assert client.get(f"/plans/{plan_id}?as_of=вчора").status_code == 400
    assert client.get(f"/plans/{plan_id}?from=2026-01-01").status_code == 400
    assert client.get("/plans/99999").status_code == 404


def test_editor_endpoints_keep_the_rules_and_tell_conflicts(client, demo_db, draft):
    plan_id, zone_id, x, y = draft["plan"], draft["zone"], draft["x"], draft["y"]
    add_staff(demo_db, "staff@example.org", "housing")
    log_in(client, "staff@example.org")  # unit staff are not planners
    assert client.get(f"/plans/{plan_id}/edit").status_code == 403
    assert json_call(client, "POST", f"/plans/{plan_id}/zones", {}).status_code == 403
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    log_in(client, "planner@example.org")
    assert client.get(f"/plans/{plan_id}/edit").status_code == 200

    created = json_call(client, "POST", f"/plans/{plan_id}/zones", {
        "attributes": {"zone_code": "Г-1", "name": "Школа"}, "geometry": square(x + D, y), "reason": "нова школа"})
    assert created.status_code == 201, created.get_json()
    new = created.get_json()
    overlap = json_call(client, "POST", f"/plans/{plan_id}/zones", {
        "attributes": {"zone_code": "Р"}, "geometry": square(x + D / 2, y + D / 2)})
    assert overlap.status_code == 422 and "overlaps" in overlap.get_json()["message"]["en"]
    bowtie = {"type": "Polygon", "coordinates": [[[x + 2 * D, y], [x + 3 * D, y + D], [x + 3 * D, y],
                                                  [x + 2 * D, y + D], [x + 2 * D, y]]]}
    invalid = json_call(client, "POST", f"/plans/{plan_id}/zones",
                        {"attributes": {"zone_code": "Р"}, "geometry": bowtie})
    assert invalid.status_code == 422 and invalid.get_json()["repairable"] is True
    repaired = json_call(client, "POST", f"/plans/{plan_id}/zones",
                         {"attributes": {"zone_code": "Р"}, "geometry": bowtie, "repair": True})
    assert repaired.status_code == 201
    assert json_call(client, "POST", f"/plans/{plan_id}/zones", {"attributes": {"zone_code": "XX"},
                                                                  "geometry": square(x, y + 3 * D)}).status_code == 400
    assert json_call(client, "PATCH", f"/plans/zones/{zone_id}", {"attributes": {"name": "x"}}).status_code == 400

    # Two edits of version 1: the second gets 412 with the current version to merge with.
    first = json_call(client, "PATCH", f"/plans/zones/{zone_id}", {"version": 1, "attributes": {"name": "Перша"}})
    assert first.status_code == 200 and first.get_json()["version"] == 2
    stale = json_call(client, "PATCH", f"/plans/zones/{zone_id}", {"version": 1, "attributes": {"notes": "Друга"}})
    body = stale.get_json()
    assert stale.status_code == 412 and body["error"] == "version_conflict"
    assert body["current"]["version"] == 2 and body["current"]["name"] == "Перша"
    assert body["current"]["geometry"]["type"] == "MultiPolygon"
    assert json_call(client, "DELETE", f"/plans/zones/{zone_id}?version=1").status_code == 412

    # Split along a line, delete, revert (JSON), a missing CSRF token.
    line = {"type": "LineString", "coordinates": [[x + 1.5 * D, y - D / 10], [x + 1.5 * D, y + 1.1 * D]]}
    split = json_call(client, "POST", f"/plans/zones/{new['id']}/split", {"line": line, "version": 1})
    assert split.status_code == 200 and len(split.get_json()["zones"]) == 2
    kept = split.get_json()["zones"][0]
    gone = json_call(client, "DELETE", f"/plans/zones/{kept['id']}?version={kept['version']}&reason=зайва")
    assert gone.status_code == 200
    # v1 would overlap the split-off part
    back = json_call(client, "POST", f"/plans/zones/{kept['id']}/revert", {"to_version": 2, "reason": "повернути"})
    assert back.status_code == 200 and back.get_json()["version"] == 4
    no_token = client.patch(f"/plans/zones/{zone_id}", json={"version": 2, "attributes": {"name": "y"}},
                            headers={"Accept": "application/json"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_json()["message"]["en"]

    # Approved: read-only, and the editor's message says so. Publishing drops the tiles kept while
    # the zones were hidden: the map shows them at once, not a minute later.
    import mercantile

    tile = mercantile.tile(x + D / 2, y + D / 2, 15)
    assert client.get(f"/tiles/plan_zones/15/{tile.x}/{tile.y}.mvt").status_code == 204
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    for status, extra in (("discussion", {}), ("approved", {"decision_number": "5/77", "decision_date": "2026-11-20"})):
        answer = client.post(f"/plans/{plan_id}/status",
                             data={"status": status, "csrf_token": form_token(page), **extra})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "5/77" in page and "2026-11-20" in page
    assert client.get(f"/tiles/plan_zones/15/{tile.x}/{tile.y}.mvt").status_code == 200
    locked = json_call(client, "PATCH", f"/plans/zones/{zone_id}", {"version": 2, "attributes": {"name": "z"}})
    assert locked.status_code == 409 and "read-only" in locked.get_json()["message"]["en"]
    no_decision = client.post(f"/plans/{plan_id}/status", data={"status": "superseded", "csrf_token": form_token(page)})
    assert no_decision.status_code == 302
    assert scalar(demo_db, "SELECT status FROM plan WHERE id = :p", p=plan_id) == "superseded"


def test_comments_in_discussion_are_moderated_and_emails_stay_private(client, demo_db, draft):
    plan_id = draft["plan"]
    closed = client.post(f"/plans/{plan_id}/comments", data={"text": "Чернетка?", "csrf_token": csrf(client)})
    assert closed.status_code == 404  # the public does not know a draft
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert 'id="comment-form"' in html
    assert client.post(f"/plans/{plan_id}/comments", data={"text": "Без токена"}).status_code == 400
    sent = client.post(f"/plans/{plan_id}/comments", data={
        "text": "Просимо сквер <script>alert(1)</script>", "author_name": "Марія", "author_email": "maria@example.org",
        "zone_id": str(draft["zone"]), "csrf_token": form_token(html)})
    assert sent.status_code == 302 and "commented=1" in sent.headers["Location"]
    assert client.post(f"/plans/{plan_id}/comments",
                       data={"text": "  ", "csrf_token": form_token(html)}).status_code == 400
    public = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Просимо сквер" not in public and "maria@example.org" not in public  # pending: not shown yet

    add_staff(demo_db, "planner@example.org", roles=("planner",))
    log_in(client, "planner@example.org")
    staff_view = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "maria@example.org" in staff_view and "&lt;script&gt;" in staff_view and "<script>alert" not in staff_view
    comment_id = scalar(demo_db, "SELECT id FROM plan_comment WHERE plan_id = :p", p=plan_id)
    decided = client.post(f"/plans/comments/{comment_id}", data={"decision": "approve",
                                                                 "csrf_token": form_token(staff_view)})
    assert decided.status_code == 302
    client.post("/staff/logout", data={"csrf_token": form_token(staff_view)})
    public = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Просимо сквер &lt;script&gt;" in public and "Марія" in public and "maria@example.org" not in public
    with demo_db.connect() as conn:
        assert "author_email" not in plans.comments(conn, plan_id)[0]
    # Approved plans take no more comments: 409.
    act(demo_db, plans.set_plan_status, plan_id, "approved", PLANNER, decision_number="1",
        decision_date=dt.date.today())
    late = client.post(f"/plans/{plan_id}/comments", data={"text": "Запізно", "csrf_token": form_token(public)})
    assert late.status_code == 409


def test_plan_as_of_a_date_and_a_diff_between_two(client, demo_db, draft):
    plan_id, zone_id, x, y = draft["plan"], draft["zone"], draft["x"], draft["y"]
    removed = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "П", "name": "Склади"}, square(x + D, y))
    with demo_db.begin() as conn:  # the first versions were made three days ago
        conn.execute(sa.text("UPDATE plan_zone_version SET changed_at = now() - interval '3 days' WHERE plan_id = :p"),
                     {"p": plan_id})
    act(demo_db, plans.update_zone, PLANNER, zone_id, 1, attributes={"max_height_m": "9"}, reason="висотність")
    act(demo_db, plans.delete_zone, PLANNER, removed["id"], 1)
    added = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Р", "name": "Сквер"}, square(x, y + D))
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    before = (kyiv_today() - dt.timedelta(days=2)).isoformat()
    then = client.get(f"/plans/{plan_id}?as_of={before}").get_data(as_text=True)
    assert "Склади" in then and "Сквер" not in then
    html = client.get(f"/plans/{plan_id}?from={before}&to={kyiv_today().isoformat()}").get_data(as_text=True)
    sections = {name: html.split(f'id="{name}-title"')[1].split("</h3>")[0] for name in ("added", "removed", "changed")}
    assert sections == {"added": ">Додані зони (1)", "removed": ">Вилучені зони (1)", "changed": ">Змінені зони (1)"}
    assert "Сквер" in html and "Склади" in html and "Гранична висота, м: — → 9" in html
    assert "#2b8a3e" in html and "8 6" in html  # added and removed drawn in their own styles
    assert f'>№{added["id"]}' not in then


# --- in Chromium -------------------------------------------------------------------------------------

def browser_log_in(page, live_server, email, target):
    page.goto(f"{live_server}/staff/login?next={target}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def map_point(page, lon, lat):
    """The page pixel of a place on the editor's map."""
    return page.evaluate("""([lat, lon]) => {
        const map = window.planEditor.map, p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }""", [lat, lon])


def new_page(browser):
    context = browser_context(browser)
    return context, context.new_page()


def test_a_planner_draws_a_zone_edits_it_and_sees_its_history(live_server, page, browser, demo_db, draft):
    plan_id, x, y = draft["plan"], draft["x"], draft["y"]
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    add_staff(demo_db, "other@example.org", roles=("planner",))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}/edit")
    assert page.url.endswith(f"/plans/{plan_id}/edit")
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size === 1")
    # Draw a square (away from the zone there) with Geoman's polygon tool: click four corners, then the first.
    page.locator(".folium-map").scroll_into_view_if_needed()
    page.click(".leaflet-pm-icon-polygon")
    corners = [(x + 2 * D, y + 2 * D), (x + 3 * D, y + 2 * D), (x + 3 * D, y + 3 * D), (x + 2 * D, y + 3 * D)]
    pixels = [map_point(page, lon, lat) for lon, lat in corners]
    for px, py in pixels + pixels[:1]:
        page.mouse.click(px, py)
        page.wait_for_timeout(80)
    page.wait_for_function("() => document.getElementById('zone-form-title').textContent.includes('Нова зона')")
    assert page.evaluate("document.activeElement.id") == "zone_code"
    page.select_option("#zone_code", "Р")
    page.fill("#zone_name", "Сквер біля ставу")
    page.fill("#permitted_uses", "сквер, дитячий майданчик")
    page.fill("#reason", "новий сквер")
    page.click("#zone-save")
    page.wait_for_selector("#editor-status:not([hidden])")
    assert "Зону створено" in page.inner_text("#editor-status")
    zone = one(demo_db, "SELECT id, version, name, ST_Area(geom::geography) AS m2 FROM plan_zone "
                        "WHERE plan_id = :p AND zone_code = 'Р'", p=plan_id)
    assert zone.version == 1 and zone.name == "Сквер біля ставу"
    expected = scalar(demo_db, "SELECT ST_Area(ST_GeomFromGeoJSON(:g)::geography)",
                      g=json.dumps(square(x + 2 * D, y + 2 * D)))
    assert zone.m2 == pytest.approx(expected, rel=0.02)  # the drawn square, within a pixel or so

    # A second planner opens the editor now, with version 1 of the new zone…
    other_context, other = new_page(browser)
    try:
        browser_log_in(other, live_server, "other@example.org", f"/plans/{plan_id}/edit")
        other.click(f'#zone-list button[data-zone="{zone.id}"]')
        # … while the first one changes an attribute and saves (version 2).
        page.fill("#zone_name", "Сквер «Став»")
        page.fill("#reason", "уточнено назву")
        page.click("#zone-save")
        page.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Збережено')")
        assert "(Версія 2)" in page.inner_text("#zone-form-title")

        # The second planner's edit of version 1 is refused: both versions shown, merged, saved.
        other.fill("#notes", "огородити ставок")
        other.fill("#reason", "безпека")
        other.click("#zone-save")
        other.wait_for_selector("#conflict:not([hidden])")
        assert other.evaluate("document.activeElement.id") == "conflict-title"
        conflict = other.inner_text("#conflict-fields")
        assert "Сквер «Став»" in conflict and "Сквер біля ставу" in conflict and "огородити ставок" in conflict
        assert other.is_checked("#merge-name-current") and other.is_checked("#merge-notes-mine")
        other.click("#merge-save")
        other.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Збережено')")
        merged = one(demo_db, "SELECT version, name, notes FROM plan_zone WHERE id = :i", i=zone.id)
        assert tuple(merged) == (3, "Сквер «Став»", "огородити ставок")  # nobody's change was lost
    finally:
        other_context.close()

    # The history: every version with who, when and why.
    page.click("#zone-history")
    page.wait_for_selector("#history-title")
    versions = page.locator("ol.zone-versions > li")
    assert versions.count() == 3
    texts = [versions.nth(i).inner_text() for i in range(3)]
    assert "безпека" in texts[0] and "уточнено назву" in texts[1] and "новий сквер" in texts[2]
    assert "Сквер біля ставу → Сквер «Став»" in texts[1]
    assert errors == []


def test_keyboard_alone_edits_an_attribute_and_reverts(live_server, page, demo_db, draft):
    plan_id, zone_id = draft["plan"], draft["zone"]
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}/edit")
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size === 1")

    def tab_to(test: str, limit=80):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(test):
                return
        raise AssertionError(f"never reached {test}")

    page.focus("body")
    # The zone's shape on the map is focusable, and so is its button in the list.
    tab_to("document.activeElement.getAttribute('role') === 'button' && document.activeElement.tagName === 'path'")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "zone-form-title"
    assert page.input_value("#zone_name") == "Центр <b>жирний</b>"
    tab_to(f"document.activeElement.dataset.zone === '{zone_id}'")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "zone-form-title"
    tab_to("document.activeElement.id === 'zone_name'")
    page.keyboard.press("Control+A")
    page.keyboard.type("Центр села")
    tab_to("document.activeElement.id === 'reason'")
    page.keyboard.type("назва з рішення")
    tab_to("document.activeElement.id === 'zone-save'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Збережено')")
    assert scalar(demo_db, "SELECT name FROM plan_zone WHERE id = :i", i=zone_id) == "Центр села"

    # The history page: revert to version 1 with the keyboard.
    tab_to("document.activeElement.id === 'zone-history'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#history-title")
    tab_to("document.activeElement.id === 'reason-1'")
    page.keyboard.type("помилка в назві")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Повернути версію 1"
    page.keyboard.press("Enter")
    page.wait_for_selector("p.result[role=status]")
    row = one(demo_db, "SELECT version, name FROM plan_zone WHERE id = :i", i=zone_id)
    assert tuple(row) == (3, "Центр <b>жирний</b>")
    assert "помилка в назві" in page.inner_text("ol.zone-versions > li:first-child")
    assert "повернено" in page.inner_text("ol.zone-versions > li:first-child")

    # Delete, with the keyboard too (the browser's confirmation is accepted with Enter).
    page.goto(f"{live_server}/plans/{plan_id}/edit")
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size === 1")
    page.focus("body")
    tab_to(f"document.activeElement.dataset.zone === '{zone_id}'")
    page.keyboard.press("Enter")
    tab_to("document.activeElement.id === 'zone-delete'")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Зону вилучено')")
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE id = :i", i=zone_id) == 0
    assert page.locator("#zone-list li").count() == 0


def test_plan_pages_pass_axe_for_planners(live_server, page, demo_db, draft):
    plan_id, zone_id = draft["plan"], draft["zone"]
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    with demo_db.begin() as conn:
        plans.add_comment(conn, plan_id, "Коментар на модерації", author_email="a@example.org")
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}")
    today = dt.date.today().isoformat()
    for path in (f"/plans/{plan_id}/edit", f"/plans/{plan_id}", f"/plans/{plan_id}?from=2020-01-01&to={today}",
                 f"/plans/zones/{zone_id}/history", f"/map/{KATOTTG}/plans"):
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}") == [], path
    # The editor answers in English too (Geoman's own texts follow).
    page.goto(f"{live_server}/plans/{plan_id}/edit?lang=en")
    assert re.search(r"Choose a zone", page.inner_text("#zone-form-title"))


def test_malformed_requests_are_4xx_never_500(client, demo_db, draft):
    plan_id, zone_id, x, y = draft["plan"], draft["zone"], draft["x"], draft["y"]
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    log_in(client, "planner@example.org")
    bad_line = {"type": "LineString", "coordinates": [["a", "b"]]}
    calls = [
        ("POST", f"/plans/{plan_id}/zones", {"attributes": ["name"], "geometry": square(x, y + 3 * D)}),
        ("POST", f"/plans/{plan_id}/zones", {"attributes": {"zone_code": "Р"}, "geometry": "не геометрія"}),
        ("POST", f"/plans/{plan_id}/zones", {"attributes": {"zone_code": "Р"}, "geometry": None}),
        ("POST", f"/plans/{plan_id}/zones", {"attributes": {"zone_code": "Р"}, "geometry": square(x, y + 3 * D),
                                             "reason": 5}),
        ("POST", f"/plans/{plan_id}/zones", [1, 2]),
        ("PATCH", f"/plans/zones/{zone_id}", {"version": "один", "attributes": {"name": "x"}}),
        ("PATCH", f"/plans/zones/{zone_id}", {"version": 1, "attributes": {"max_height_m": "високо"}}),
        ("PATCH", f"/plans/zones/{zone_id}", {"version": 1, "geometry": {"type": "Point", "coordinates": [x, y]}}),
        ("POST", f"/plans/zones/{zone_id}/split", {"version": 1, "line": bad_line}),
        ("POST", f"/plans/zones/{zone_id}/split", {"version": 1, "line": "лінія"}),
        ("POST", f"/plans/zones/{zone_id}/revert", {"to_version": 99}),
        ("DELETE", f"/plans/zones/{zone_id}?version=x", None),
        ("PATCH", "/plans/zones/99999", {"version": 1, "attributes": {"name": "x"}}),
        ("POST", "/plans/99999/zones", {"attributes": {"zone_code": "Р"}, "geometry": square(x, y)}),
    ]
    for method, url, body in calls:
        answer = json_call(client, method, url, body)
        assert 400 <= answer.status_code < 500, (method, url, body, answer.status_code, answer.get_data(as_text=True))
        assert answer.get_json()["message"]["en"], (method, url)
    for query in ("as_of=0001-01-01", "as_of=9999-12-31T23:59", "as_of=2026-13-01", "from=x&to=y",
                  "version=abc"):
        assert client.get(f"/plans/{plan_id}?{query}").status_code in (200, 400), query
    assert client.get(f"/plans/zones/{zone_id}/history?version=abc").status_code == 400
    assert client.get(f"/plans/zones/{zone_id}/history?version=42").status_code == 200
