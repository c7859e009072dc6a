"""The public map in real Chromium: it draws, popups show data as text, the keyboard works."""
import re

import sqlalchemy as sa

from tests.helpers import scalar
from tests.webmap.conftest import settle

EVIL = '<img src=x onerror="window.__pwned=1">Майдан</b>'


def open_popup_js(name: str) -> str:
    return """name => {
        const map = window[document.querySelector('.folium-map').id];
        let opened = false;
        map.eachLayer(l => {
            if (!opened && l.feature && l.feature.properties._label === name && l.getBounds) {
                l.fire('click', {latlng: l.getBounds().getCenter()}, true);  // bubbles to the GeoJSON group
                opened = true;
            }
        });
        return opened;
    }"""


def wait_for_map(page) -> None:
    """Until the map's layers have fetched what lies in the view (static/map_layers.js)."""
    page.wait_for_selector(".leaflet-container")
    page.wait_for_function("() => window.hromadaMap && window.hromadaMap.pending === 0"
                           " && document.querySelector('path.leaflet-interactive')")


def switch_on(page, layer_title: str) -> None:
    page.locator(".leaflet-control-layers-overlays label", has_text=layer_title).locator("input").check()
    page.wait_for_function("() => window.hromadaMap.pending === 0")


def click_map_at(page, lat: float, lon: float, zoom: int = 17) -> None:
    """Click the page's map at a place: the map's own projection tells where that is on screen."""
    x, y = page.evaluate("""([lat, lon, zoom]) => {
        const map = window[document.querySelector('.folium-map').id];
        map.setView([lat, lon], zoom, {animate: false});
        const p = map.latLngToContainerPoint([lat, lon]);
        const r = map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""", [lat, lon, zoom])
    page.mouse.click(x, y)


def test_map_draws_layers_and_popups_are_text(live_server, page, demo_db):
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE settlement SET name_uk = :n WHERE name_uk = 'Майдан'"), {"n": EVIL})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live_server + "/")
    wait_for_map(page)
    # What a resident reports about is drawn at first (points as circles in their style's colours);
    # the rest waits in the layer list.
    drawn = page.locator("path.leaflet-interactive").count()
    assert drawn == 1 + sum(scalar(demo_db, f"SELECT count(*) FROM {table}")
                            for table in ("street_lamp", "road_segment", "report"))
    faulty_lamps = scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE status = 'faulty'")
    assert faulty_lamps and page.locator('path.leaflet-interactive[fill="#c92a2a"]').count() >= faulty_lamps
    labels = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    assert labels[:3] == ["Територіальні громади", "Населені пункти", "Відповідальні підрозділи"]
    assert {"Стан доріг", "Вуличне освітлення", "Зони покриття провайдерів"} <= set(labels)
    assert "© OpenStreetMap contributors (ODbL)" in page.locator(".leaflet-control-attribution").inner_text()

    switch_on(page, "Населені пункти")
    settlements = scalar(demo_db, "SELECT count(*) FROM settlement")
    assert page.locator("path.leaflet-interactive").count() == drawn + settlements
    assert page.evaluate(open_popup_js(EVIL), EVIL)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert EVIL in popup.inner_text()  # shown literally, as text
    assert popup.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_keyboard_reaches_skip_link_navigation_and_map(live_server, page, demo_db):
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-container")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Перейти до змісту"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"
    focused = []
    for _ in range(20):  # past the thematic pages' links, the feed and alerts links above the map
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.className || document.activeElement.tagName"))
    assert any("leaflet-container" in c for c in focused), focused
    # Arrow keys pan the focused map.
    page.focus(".leaflet-container")
    centre = page.evaluate("window[document.querySelector('.folium-map').id].getCenter().lng")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)
    assert page.evaluate("window[document.querySelector('.folium-map').id].getCenter().lng") > centre


def test_language_switch_in_the_browser(live_server, page, demo_db):
    page.goto(live_server + "/")
    page.get_by_role("link", name="English").click()
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Yakushyntsi Rural Hromada"
    assert page.evaluate("document.documentElement.lang") == "en"


def test_resident_files_a_report_by_clicking_the_map_and_using_the_keyboard(live_server, page, demo_db):
    from tests.helpers import asset_point

    page.goto(live_server + "/")
    wait_for_map(page)
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    click_map_at(page, lat, lon)
    page.wait_for_selector("#category[data-loaded-for]")
    assert abs(float(page.input_value("#lat")) - lat) < 0.0002

    # From here on, only the keyboard.
    page.focus("#category")
    for _ in range(10):
        if page.input_value("#category") == "street_light_out":
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("#category") == "street_light_out"
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.id") != "description":
        page.keyboard.press("Tab")
    page.keyboard.type("Не світить ліхтар біля зупинки")
    while page.evaluate("document.activeElement.id") != "email":
        page.keyboard.press("Tab")
    page.keyboard.type("resident@example.org")
    while page.evaluate("document.activeElement.id") != "submit-report":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    result = page.locator("#report-result")
    result.wait_for(state="visible")
    text = result.inner_text()
    code = re.search(r"ЯК-\d{4}-\d{6}", text).group(0)
    assert "Ліхтар №301" in text
    assert page.evaluate("document.activeElement.id") == "report-result"  # focus moves to the answer
    private = result.locator("a").last
    assert f"/reports/{code}?token=" in private.inner_text()  # readable, not percent-encoded
    assert "%D0" in private.get_attribute("href")
    with demo_db.connect() as conn:
        row = conn.execute(sa.text("SELECT reporter_email, status FROM report WHERE code = :c"), {"c": code}).one()
    assert row == ("resident@example.org", "new")


def test_similar_reports_are_offered_before_submitting(live_server, page, demo_db):
    from tests.helpers import asset_point

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        from layers.reports import NewReport, create_report
        existing = create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out",
                                                 description="Вже повідомили"), public_url=live_server)["code"]
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-container")
    page.fill("#lat", str(lat))
    page.fill("#lon", str(lon + 0.0003))
    page.dispatch_event("#lon", "change")
    page.wait_for_selector("#category[data-loaded-for]")
    page.select_option("#category", "street_light_out")
    page.wait_for_selector("#similar li")
    settle(page)
    assert existing in page.inner_text("#similar")
    page.fill("#email", "someone-else@example.org")  # further down the form, for a report of one's own
    page.get_by_role("button", name="Я теж").click()
    page.wait_for_selector("#similar strong")
    with demo_db.connect() as conn:
        supporters = conn.execute(sa.text("SELECT count(*) FROM report_event WHERE kind = 'me_too'")).scalar()
        followers = conn.execute(sa.text("SELECT count(*) FROM report_subscriber")).scalar()
    assert supporters == 1 and followers == 0  # "me too" took no address of the form with it
    follow = page.get_by_role("link", name="Стежити за ним на його сторінці")
    assert follow.get_attribute("href").endswith("#follow-title")

    # A report on the same lamp joins the open one and says so, with no new tracking code.
    page.select_option("#category", "street_light_out")
    page.fill("#description", "І досі не світить")
    page.click("#submit-report")
    result = page.locator("#report-result")
    result.wait_for(state="visible")
    assert result.inner_text().startswith("Про це вже повідомили") and existing in result.inner_text()
    assert "Код для відстеження" not in result.inner_text()


def test_staff_see_their_change_saved_and_nothing_is_preselected(live_server, page, demo_db):
    from layers.reports import NewReport, create_report
    from tests.helpers import asset_point
    from tests.webmap.test_reports_http import add_staff

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        code = create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out", description="Темно"),
                             public_url=live_server)["code"]
    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    page.goto(live_server + "/staff/login")
    page.fill("#email", "olena@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/staff/reports/{code}")
    assert page.input_value("#status") == ""  # nothing chosen for the staff member
    # The lamp it is about is on the map beside the report's place, named on hover.
    lamp = page.locator('.place-map path[stroke="#1971c2"]')
    assert lamp.count() == 1
    tooltips = page.evaluate("""() => {
        const map = window[document.querySelector('.place-map .folium-map').id];
        map.eachLayer(l => {  // as a pointer over each feature would (the events bubble to its group)
            if (l.feature) l.fire('mouseover', {latlng: l.getLatLng ? l.getLatLng() : l.getBounds().getCenter()}, true);
        });
        return [...document.querySelectorAll('.leaflet-tooltip')].map(e => e.textContent);
    }""")
    assert "№ 301" in tooltips
    page.select_option("#status", "resolved")
    page.fill("#public_note", "Лампу замінено")
    status_button = page.locator("form[action$='/status'] button[type=submit]")
    status_button.click()
    page.wait_for_selector("p.result[role=status]")
    assert page.locator("p.result[role=status]").inner_text() == "Збережено."
    # Resolved: the only way on is "reopened", and it is not chosen by itself.
    assert page.input_value("#status") == ""
    status_button.click()  # sent unchanged: refused, nothing changes
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM report WHERE code = :c"), {"c": code}).scalar() == "resolved"
    # The queue shows how many people support each report.
    with demo_db.begin() as conn:
        from layers.reports import me_too

        reopened = conn.execute(sa.text("UPDATE report SET status = 'reopened' WHERE code = :c RETURNING code"),
                                {"c": code}).scalar()
        me_too(conn, reopened, None, public_url=live_server)
        me_too(conn, reopened, None, public_url=live_server)
    page.goto(f"{live_server}/staff/")
    header = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    row = [c.strip() for c in page.locator("table tbody tr", has_text=code).locator("td").all_inner_texts()]
    assert row[header.index("Підтримали")] == "2", (header, row)


def test_a_large_layer_comes_as_tiles_and_its_features_open_popups(app, live_server, page, demo_db):
    from layers.synthetic import load_synthetic
    from tests.helpers import demo_hromada_id

    app.config["MAP_TILES_ABOVE"] = 500
    with demo_db.begin() as conn:
        load_synthetic(conn, 30_000, 10)
        conn.execute(sa.text("UPDATE synthetic_point SET hromada_id = :h"), {"h": demo_hromada_id(demo_db)})
    lon, lat, name = demo_db.connect().execute(sa.text(
        "SELECT ST_X(geom), ST_Y(geom), label FROM synthetic_point ORDER BY id LIMIT 1")).one()

    tiles = []
    page.on("response", lambda r: tiles.append(r.status) if "/tiles/synthetic_points/" in r.url else None)
    page.goto(live_server + "/")
    wait_for_map(page)
    assert not tiles  # not a layer residents report about: off until switched on
    switch = page.locator(".leaflet-control-layers-overlays label", has_text="Синтетичні точки (тест)").locator("input")
    with page.expect_response(lambda r: "/tiles/synthetic_points/" in r.url):
        switch.check()
    settle(page)
    assert tiles and all(status in (200, 204) for status in tiles)
    assert 200 in tiles  # some tile over the hromada holds synthetic points

    # A click on a point drawn from a tile opens its popup, as a GeoJSON feature's would.
    page.evaluate("([lat, lon]) => window[document.querySelector('.folium-map').id].setView([lat, lon], 18, "
                  "{animate: false})", [lat, lon])
    settle(page)
    click_map_at(page, lat, lon, zoom=18)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert name in popup.inner_text()


def test_on_a_phone_the_layer_list_is_folded_and_a_tap_places_the_report(browser, live_server, demo_db):
    from tests.webmap.conftest import browser_context

    context = browser_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(live_server + "/")
    wait_for_map(page)
    control = page.locator(".leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in control.get_attribute("class")
    box = page.locator(".folium-map").bounding_box()
    assert control.bounding_box()["height"] < box["height"] / 4
    # A tap where the map is (the locator waits until the map, not something over it, takes the tap).
    page.locator(".folium-map").tap(position={"x": box["width"] / 3, "y": box["height"] / 2})
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
