"""The browser editor of every editable layer (issue #19, webmap/editor.py): staff move a lamp and change
its status, an administrator changes a lease in the property register; each change is in the feature's
history with the editor's name and can be reverted from the page; a stale form is refused and nothing is
overwritten; another hromada's administrator gets 403; the pages pass axe and fit 320 px."""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from gis.users import create_user
from tests.helpers import STRYZHAVKA, demo_hromada_id, load_neighbours, one, scalar, unit_id
from tests.webmap.conftest import browser_context, settle
from tests.webmap.reflow import NARROW, OVERFLOW
from tests.webmap.test_accessibility import audit
from tests.webmap.test_reports_http import form_token, log_in

PASSWORD = "correct horse battery"
LIGHTING = "lighting@example.org"  # unit staff of the communal enterprise that keeps the lamps
ADMIN = "admin@example.org"
OTHER = "other-admin@example.org"  # an administrator of another hromada


@pytest.fixture
def people(demo_db):
    demo = demo_hromada_id(demo_db)
    load_neighbours(demo_db)
    other = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with demo_db.begin() as conn:
        create_user(conn, LIGHTING, PASSWORD, ["unit_staff"], hromada_id=demo, full_name="Олена Світлова",
                    unit_ids=[unit_id(demo_db, "kp_blagoustrij")])
        create_user(conn, ADMIN, PASSWORD, ["admin"], hromada_id=demo, full_name="Іван Адмінчук")
        create_user(conn, OTHER, PASSWORD, ["admin", "unit_staff", "planner"], hromada_id=other,
                    full_name="Чужий Адмін")
    lamp = one(demo_db, """SELECT id, ref, status, ST_Y(geom) AS lat, ST_X(geom) AS lon FROM street_lamp
                           WHERE hromada_id = :h AND status = 'working' ORDER BY ref LIMIT 1""", h=demo)
    leased = one(demo_db, """SELECT id, name, lease_end, rent_uah_month FROM communal_property
                             WHERE hromada_id = :h AND tenant_kind = 'legal_entity' ORDER BY id LIMIT 1""", h=demo)
    katottg = scalar(demo_db, "SELECT katottg FROM hromada WHERE id = :h", h=demo)
    return {"lamp": lamp, "property": leased, "katottg": katottg, "hromada_id": demo}


def _form_fields(html: str) -> dict:
    """The values of a page's feature form as the browser would send them (inputs, selects, textareas)."""
    form = re.search(r'<form method="post" class="feature-form".*?</form>', html, re.S).group(0)
    data = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            data[name.group(1)] = _unescape(value.group(1)) if value else ""
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = _unescape(chosen.group(1)) if chosen else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = _unescape(text.lstrip("\n"))
    return data


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


# --- over HTTP ---------------------------------------------------------------------------------------

def test_lamp_edit_stale_form_history_and_revert_over_http(client, demo_db, people):
    lamp = people["lamp"]
    url = f"/staff/edit/street_lamps/{lamp.id}"
    assert client.get(url).status_code == 302  # sign in first
    log_in(client, LIGHTING)
    index = client.get(f"/staff/edit/?hromada={people['katottg']}").get_data(as_text=True)
    assert "/staff/edit/street_lamps" in index and "/staff/edit/communal_property" not in index  # admins' only
    found = client.get(f"/staff/edit/street_lamps?hromada={people['katottg']}&q={lamp.ref}").get_data(as_text=True)
    assert f'href="{url}"' in found
    assert "Редагувати шари" in client.get("/staff/").get_data(as_text=True)  # the staff bar's link
    assert client.get(f"/staff/edit/communal_property/{people['property'].id}").status_code == 403

    page = client.get(url)
    assert page.status_code == 200
    opened = _form_fields(page.get_data(as_text=True))
    assert opened["f_status"] == "working" and opened["version"] == "1"
    assert abs(float(opened["lat"]) - lamp.lat) < 1e-6

    # Two people open version 1; the first moves the lamp and marks it faulty.
    first = dict(opened, f_status="faulty", lat=f"{lamp.lat + 0.0002:.7f}", reason="огляд: не світить")
    saved = client.post(url, data=first)
    assert saved.status_code == 303 and saved.headers["Location"].endswith(url)
    after = one(demo_db, "SELECT status, ST_Y(geom) AS lat FROM street_lamp WHERE id = :i", i=lamp.id)
    assert after.status == "faulty" and abs(after.lat - (lamp.lat + 0.0002)) < 1e-7

    # The second, with the stale version 1, changes the power: refused, nothing overwritten, both shown.
    stale = client.post(url, data=dict(opened, f_power_w="150", f_status="missing"))
    html = stale.get_data(as_text=True)
    assert stale.status_code == 412, html
    assert "Об'єкт тим часом змінив хтось інший" in _unescape(html) and 'class="error-summary"' in html
    assert re.search(r'class="mine">відсутній<.*?class="current">несправний<', html, re.S)
    again = _form_fields(html)
    assert again["version"] == "2" and again["f_power_w"] == "150"  # theirs kept, the version now current
    assert abs(float(again["lat"]) - (lamp.lat + 0.0002)) < 1e-6  # not moved by them: the current place
    assert scalar(demo_db, "SELECT status FROM street_lamp WHERE id = :i", i=lamp.id) == "faulty"

    # The history: newest first, with who, why and what changed; revert to version 1 from the page.
    page = client.get(url).get_data(as_text=True)
    history = page[page.index('id="history-title"'):]
    assert "Олена Світлова" in history and "огляд: не світить" in history
    assert "Стан: працює → несправний" in history and "Змінено місце або форму." in history
    token = form_token(page)
    reverted = client.post(f"{url}/revert", data={"csrf_token": token, "version": "1", "reason": "помилка"})
    assert reverted.status_code == 303
    back = one(demo_db, "SELECT status, ST_Y(geom) AS lat FROM street_lamp WHERE id = :i", i=lamp.id)
    assert back.status == "working" and abs(back.lat - lamp.lat) < 1e-9
    page = client.get(url).get_data(as_text=True)
    assert "Повернено версію 1." in page and "помилка" in page
    assert scalar(demo_db, "SELECT count(*) FROM feature_version WHERE layer = 'street_lamps' AND feature_id = :i",
                  i=lamp.id) == 3


def test_form_errors_beside_fields_and_markup_escaped(client, demo_db, people):
    lamp = people["lamp"]
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE street_lamp SET cabinet = '<b>ШК-1</b>' WHERE id = :i"), {"i": lamp.id})
    log_in(client, ADMIN)
    url = f"/staff/edit/street_lamps/{lamp.id}"
    page = client.get(url).get_data(as_text=True)
    assert "&lt;b&gt;ШК-1&lt;/b&gt;" in page and "<b>ШК-1" not in page
    data = _form_fields(page)
    bad = client.post(url, data=dict(data, f_power_w="багато", lat="91", f_installed_on="2026-13-45"))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert 'id="f_power_w-error"' in html and 'id="lat-error"' in html and 'id="f_installed_on-error"' in html
    assert 'href="#f_power_w"' in html  # the summary links to the field
    assert 'aria-invalid="true"' in html
    assert client.post(url, data=dict(data, f_ref="")).status_code == 400  # required
    en = client.get(url + "?lang=en").get_data(as_text=True)
    assert "Pole number" in en and "Latitude" in en and "History of changes" in en


def test_new_lamp_delete_and_bring_back(client, demo_db, people):
    lamp = people["lamp"]
    log_in(client, ADMIN)
    new = f"/staff/edit/street_lamps/new?hromada={people['katottg']}"
    data = _form_fields(client.get(new).get_data(as_text=True))
    data.update(f_ref="999", f_status="working", lat=str(lamp.lat + 0.0001), lon=str(lamp.lon), reason="нова опора")
    made = client.post(new, data=data)
    assert made.status_code == 303, made.get_data(as_text=True)
    feature_url = made.headers["Location"]
    new_id = int(feature_url.rsplit("/", 1)[1])
    assert scalar(demo_db, "SELECT hromada_id FROM street_lamp WHERE id = :i", i=new_id) == people["hromada_id"]
    outside = dict(data, f_ref="998", lat="50.45", lon="30.52")  # Kyiv: not this hromada
    assert client.post(new, data=outside).status_code in (400, 422)

    opened = _form_fields(client.get(feature_url).get_data(as_text=True))
    confirm = client.get(f"{feature_url}/delete").get_data(as_text=True)
    assert "Так, вилучити" in confirm
    gone = client.post(f"{feature_url}/delete", data={"csrf_token": form_token(confirm), "version": "1",
                                                      "reason": "помилково"})
    assert gone.status_code == 303
    assert scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE id = :i", i=new_id) == 0
    late = client.post(feature_url, data=dict(opened, f_status="faulty"))  # a form opened before the deletion
    assert late.status_code == 412 and "ваші зміни не збережено" in _unescape(late.get_data(as_text=True))
    assert scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE id = :i", i=new_id) == 0
    deleted = client.get(feature_url).get_data(as_text=True)
    assert "вилучено" in deleted and "Повернути версію 1" in deleted
    client.post(f"{feature_url}/revert", data={"csrf_token": form_token(deleted), "version": "1"})
    assert scalar(demo_db, "SELECT ref FROM street_lamp WHERE id = :i", i=new_id) == "999"


def test_another_hromadas_admin_gets_403(client, demo_db, people):
    log_in(client, OTHER)
    lamp, prop = people["lamp"], people["property"]
    for url in (f"/staff/edit/street_lamps/{lamp.id}", f"/staff/edit/communal_property/{prop.id}",
                f"/staff/edit/street_lamps/{lamp.id}/delete",
                f"/staff/edit/street_lamps?hromada={people['katottg']}",
                f"/staff/edit/street_lamps/new?hromada={people['katottg']}",
                f"/staff/edit/?hromada={people['katottg']}"):
        assert client.get(url).status_code == 403, url
    token = form_token(client.get("/staff/login").get_data(as_text=True))
    assert client.post(f"/staff/edit/street_lamps/{lamp.id}", data={"csrf_token": token, "version": "1",
                                                                     "f_status": "missing"}).status_code == 403
    assert client.post(f"/staff/edit/street_lamps/{lamp.id}/revert",
                       data={"csrf_token": token, "version": "1"}).status_code == 403
    assert scalar(demo_db, "SELECT status FROM street_lamp WHERE id = :i", i=lamp.id) == "working"
    assert client.get("/staff/edit/no_such_layer").status_code in (403, 404)


def test_a_road_as_geojson_text_without_javascript(client, demo_db, people):
    road = one(demo_db, "SELECT id, ST_AsGeoJSON(geom)::json AS g FROM road_segment WHERE hromada_id = :h "
                        "ORDER BY id LIMIT 1", h=people["hromada_id"])
    log_in(client, LIGHTING)  # unit staff may change roads too
    url = f"/staff/edit/road_segments/{road.id}"
    page = client.get(url).get_data(as_text=True)
    data = _form_fields(page)
    assert '"LineString"' in data["geometry"]
    assert '"neighbours": [{' in page  # the roads around it, drawn and snapped to on the map
    bad = client.post(url, data=dict(data, geometry="{не json"))
    assert bad.status_code == 400 and 'id="geometry-error"' in bad.get_data(as_text=True)
    wrong = client.post(url, data=dict(data, geometry='{"type": "Point", "coordinates": [28.2, 49.3]}'))
    assert wrong.status_code == 400 and 'id="geometry-error"' in wrong.get_data(as_text=True)
    (x1, y1), (x2, y2) = road.g["coordinates"][0], road.g["coordinates"][-1]
    line = {"type": "LineString", "coordinates": [[x1, y1], [(x1 + x2) / 2, (y1 + y2) / 2 + 0.0001], [x2, y2]]}
    saved = client.post(url, data=dict(data, geometry=json.dumps(line), f_pci="101"))
    assert saved.status_code == 400 and 'id="f_pci-error"' in saved.get_data(as_text=True)  # PCI is 0–100
    saved = client.post(url, data=dict(data, geometry=json.dumps(line), f_pci="64,5", reason="ремонт"))
    assert saved.status_code == 303
    assert scalar(demo_db, "SELECT ST_NPoints(geom) FROM road_segment WHERE id = :i", i=road.id) == 3
    assert float(scalar(demo_db, "SELECT pci FROM road_segment WHERE id = :i", i=road.id)) == 64.5

# --- in Chromium -----------------------------------------------------------------------------------------

def sign_in(page, live_server, email):
    page.goto(live_server + "/staff/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_staff_drag_a_lamp_change_its_status_and_revert_in_the_browser(live_server, page, demo_db, people):
    lamp = people["lamp"]
    sign_in(page, live_server, LIGHTING)
    page.goto(f"{live_server}/staff/")
    page.click("text=Редагувати шари")
    page.click("text=Вуличне освітлення")
    page.fill("#q", lamp.ref)
    page.press("#q", "Enter")
    page.click(f"ul.editor-list a:text-is('{lamp.ref}')")
    page.wait_for_selector(".leaflet-marker-icon")
    west = float(page.input_value("#lon"))
    page.focus(".leaflet-marker-icon")  # the marker from the keyboard: arrow keys move it
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert float(page.input_value("#lon")) > west
    before = float(page.input_value("#lat"))
    box = page.locator(".leaflet-marker-icon").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 40, steps=8)
    page.mouse.move(x + 30, y + 60, steps=8)
    page.mouse.up()
    page.wait_for_function("before => Number(document.getElementById('lat').value) < before", arg=before)
    assert "Нове місце" in page.text_content("#map-status")
    moved_lat, moved_lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
    page.select_option("#f_status", "faulty")
    page.fill("#reason", "не світить після грози")
    page.click("#feature-form button[type=submit]")
    page.wait_for_selector("text=Зміни збережено.")
    row = one(demo_db, "SELECT status, ST_Y(geom) AS lat, ST_X(geom) AS lon FROM street_lamp WHERE id = :i", i=lamp.id)
    assert row.status == "faulty" and abs(row.lat - moved_lat) < 1e-6 and abs(row.lon - moved_lon) < 1e-6
    newest = page.locator(".versions > li").first
    assert "Олена Світлова" in newest.text_content() and "працює → несправний" in newest.text_content()
    assert "не світить після грози" in newest.text_content()

    page.locator("#v1 button").click()
    page.wait_for_selector("text=Повернено версію 1.")
    row = one(demo_db, "SELECT status, ST_Y(geom) AS lat FROM street_lamp WHERE id = :i", i=lamp.id)
    assert row.status == "working" and abs(row.lat - lamp.lat) < 1e-9
    assert page.input_value("#f_status") == "working"
    assert "Олена Світлова" in page.locator(".versions > li").first.text_content()


def test_admin_changes_a_lease_and_reverts_it_with_the_keyboard(live_server, page, demo_db, people):
    prop = people["property"]
    sign_in(page, live_server, ADMIN)
    page.goto(f"{live_server}/staff/edit/communal_property?hromada={people['katottg']}&q=ФАП")
    page.click(f"ul.editor-list a:text-is('{prop.name}')")
    assert page.input_value("#f_lease_end") == prop.lease_end.isoformat()
    page.fill("#f_lease_end", "2031-12-31")
    page.fill("#f_rent_uah_month", "3100,50")
    page.fill("#reason", "додаткова угода № 2")
    page.focus("#f_rent_uah_month")
    page.keyboard.press("Enter")  # Enter in a text field sends the form
    page.wait_for_selector("text=Зміни збережено.")
    row = one(demo_db, "SELECT lease_end, rent_uah_month FROM communal_property WHERE id = :i", i=prop.id)
    assert row.lease_end.isoformat() == "2031-12-31" and float(row.rent_uah_month) == 3100.5
    newest = page.locator(".versions > li").first.text_content()
    assert "Іван Адмінчук" in newest and "додаткова угода № 2" in newest
    assert "Оренда до:" in newest and "2031" in newest and "Орендна плата, грн/міс.:" in newest

    # A stale form (opened before a colleague's change) is refused and overwrites nothing.
    page.goto(f"{live_server}/staff/edit/communal_property/{prop.id}")
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE communal_property SET rent_uah_month = 4000 WHERE id = :i"), {"i": prop.id})
    page.fill("#f_rent_uah_month", "3200")
    page.click("#feature-form button[type=submit]")
    page.wait_for_selector("#conflict")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    shown = page.text_content("#conflict").replace("\xa0", " ")
    assert "3 200" in shown and "4 000" in shown  # theirs and the current value, side by side
    assert float(scalar(demo_db, "SELECT rent_uah_month FROM communal_property WHERE id = :i", i=prop.id)) == 4000

    # Back to the first version with the keyboard alone: focus its revert button and press Enter.
    page.goto(f"{live_server}/staff/edit/communal_property/{prop.id}")
    page.focus("#v1 button")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Повернено версію 1.")
    row = one(demo_db, "SELECT lease_end, rent_uah_month FROM communal_property WHERE id = :i", i=prop.id)
    assert row.lease_end == prop.lease_end and float(row.rent_uah_month) == float(prop.rent_uah_month)


def test_editor_pages_pass_axe_and_fit_320_px(live_server, browser, page, demo_db, people):
    lamp, prop, k = people["lamp"], people["property"], people["katottg"]
    with demo_db.begin() as conn:  # a history to show, and a deleted lamp's page
        conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty' WHERE id = :i"), {"i": lamp.id})
        gone = conn.execute(sa.text("DELETE FROM street_lamp WHERE id = (SELECT max(id) FROM street_lamp) "
                                    "RETURNING id")).scalar_one()
    pages = ["/staff/edit/", f"/staff/edit/street_lamps?hromada={k}", f"/staff/edit/street_lamps/{lamp.id}",
             f"/staff/edit/street_lamps/new?hromada={k}", f"/staff/edit/street_lamps/{lamp.id}/delete",
             f"/staff/edit/communal_property/{prop.id}",
             f"/staff/edit/road_segments/{scalar(demo_db, 'SELECT min(id) FROM road_segment')}",
             f"/staff/edit/street_lamps/{gone}"]
    sign_in(page, live_server, ADMIN)
    for lang in ("uk", "en"):
        for path in pages:
            url = f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}"
            assert audit(page, url) == [], url
    # A refused form (errors beside the fields, the summary) and the stale-version view too.
    page.goto(f"{live_server}/staff/edit/street_lamps/{lamp.id}?lang=uk")
    page.fill("#f_power_w", "багато")
    page.click("#feature-form button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert audit_current(page) == []
    page.goto(f"{live_server}/staff/edit/communal_property/{prop.id}?lang=en")
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE communal_property SET rent_uah_month = 4000 WHERE id = :i"), {"i": prop.id})
    page.fill("#f_rent_uah_month", "3200")
    page.click("#feature-form button[type=submit]")
    page.wait_for_selector("#conflict")
    assert audit_current(page) == []

    context = browser_context(browser, viewport={"width": NARROW, "height": 640})
    narrow = context.new_page()
    sign_in(narrow, live_server, ADMIN)
    for path in pages:
        narrow.goto(live_server + path)
        settle(narrow)
        found = narrow.evaluate(OVERFLOW)
        assert found["scrollWidth"] <= NARROW and not found["wide"] and not found["unreachable"], (path, found)
    context.close()


def audit_current(page) -> list[dict]:
    """axe on the page as it is now (after a form was sent), not reloaded."""
    from tests.axe import violations

    return violations(page)


def test_a_road_redrawn_on_the_map_snaps_to_its_old_vertex(live_server, page, demo_db, people):
    """A line's geometry is a GeoJSON field; with the map, Leaflet-Geoman draws it, snapping to vertices."""
    road = one(demo_db, """SELECT id, ST_AsGeoJSON(geom)::json AS g FROM road_segment WHERE hromada_id = :h
                           ORDER BY id LIMIT 1""", h=people["hromada_id"])
    first = road.g["coordinates"][0]
    sign_in(page, live_server, ADMIN)
    page.goto(f"{live_server}/staff/edit/road_segments/{road.id}")
    page.wait_for_selector(".leaflet-pm-toolbar")
    assert '"LineString"' in page.input_value("#geometry")
    point = page.evaluate("""([lon, lat]) => {
        const map = window[document.querySelector('.folium-map').id];
        const p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", first)
    page.click(".leaflet-pm-icon-polyline")
    page.mouse.click(point[0] + 6, point[1] + 4)  # near the old first vertex: snapped onto it
    page.mouse.click(point[0] + 60, point[1] + 30)
    page.mouse.click(point[0] + 120, point[1] + 20)
    page.mouse.click(point[0] + 120, point[1] + 20)  # the last vertex again: the line is finished
    page.wait_for_function("() => JSON.parse(document.getElementById('geometry').value).coordinates.length === 3")
    drawn = page.evaluate("() => JSON.parse(document.getElementById('geometry').value)")
    assert drawn["type"] == "LineString"
    assert abs(drawn["coordinates"][0][0] - first[0]) < 1e-8 and abs(drawn["coordinates"][0][1] - first[1]) < 1e-8
    page.fill("#reason", "перетрасовано")
    page.click("#feature-form button[type=submit]")
    page.wait_for_selector("text=Зміни збережено.")
    assert scalar(demo_db, "SELECT ST_NPoints(geom) FROM road_segment WHERE id = :i", i=road.id) == 3
    assert "Змінено місце або форму." in page.locator(".versions > li").first.text_content()
