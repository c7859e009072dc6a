"""The public map in real Chromium: it draws, popups show data as text, the keyboard works."""
import re

import sqlalchemy as sa

from tests.helpers import scalar

EVIL = '<img src=x onerror="window.__pwned=1">Майдан</b>'


def open_popup_js(name: str) -> str:
    return """name => {
        const map = window[document.querySelector('.folium-map').id];
        let opened = false;
        map.eachLayer(l => {
            if (!opened && l.feature && l.feature.properties.name_uk === name && l.getBounds) {
                l.fire('click', {latlng: l.getBounds().getCenter()}, true);  // bubbles to the GeoJSON group
                opened = true;
            }
        });
        return opened;
    }"""


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
    page.wait_for_selector(".leaflet-container path.leaflet-interactive")
    # Every feature listed under the map is drawn (points as circles in their style's colours).
    listed = page.locator("ul.feature-list li").count()
    assert listed >= 20 + scalar(demo_db, "SELECT count(*) FROM road_segment")
    assert page.locator("path.leaflet-interactive").count() == listed
    faulty_lamps = scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE status = 'faulty'")
    assert faulty_lamps and page.locator('path.leaflet-interactive[fill="#c92a2a"]').count() >= faulty_lamps
    labels = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    assert labels[:3] == ["Територіальні громади", "Населені пункти", "Відповідальні підрозділи"]
    assert {"Стан доріг", "Вуличне освітлення", "Зони покриття провайдерів"} <= set(labels)
    assert "© OpenStreetMap contributors (ODbL)" in page.locator(".leaflet-control-attribution").inner_text()

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
    for _ in range(12):
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
    page.wait_for_selector(".leaflet-container path.leaflet-interactive")
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    click_map_at(page, lat, lon)
    page.wait_for_function("() => document.getElementById('category').options.length > 1")
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
    page.wait_for_function("() => document.getElementById('category').options.length > 1")
    page.select_option("#category", "street_light_out")
    page.wait_for_selector("#similar li")
    page.wait_for_load_state("networkidle")
    assert existing in page.inner_text("#similar")
    page.get_by_role("button", name="Я теж").click()
    page.wait_for_selector("#similar strong")
    with demo_db.connect() as conn:
        supporters = conn.execute(sa.text("SELECT count(*) FROM report_event WHERE kind = 'me_too'")).scalar()
    assert supporters == 1


def test_a_large_layer_comes_as_tiles_and_the_first_view_does_not_grow(app, client, live_server, page, demo_db):
    from layers.synthetic import load_synthetic

    app.config["MAP_TILES_ABOVE"] = 500
    with demo_db.begin() as conn:
        load_synthetic(conn, 1000, 10)
    small = len(client.get("/").data)
    with demo_db.begin() as conn:
        load_synthetic(conn, 30_000, 10)
    large = len(client.get("/").data)
    assert large / small <= 1.1  # the page does not carry the features

    tiles = []
    page.on("response", lambda r: tiles.append(r.status) if "/tiles/synthetic_points/" in r.url else None)
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-container")
    page.wait_for_load_state("networkidle")
    assert tiles and all(status in (200, 204) for status in tiles)
    assert 200 in tiles  # some tile over the hromada holds synthetic points
    labels = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    assert "Синтетичні точки (тест)" in labels
