"""The public map in real Chromium: it draws, popups show data as text, the keyboard works."""
import sqlalchemy as sa

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


def test_map_draws_layers_and_popups_are_text(live_server, page, demo_db):
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE settlement SET name_uk = :n WHERE name_uk = 'Майдан'"), {"n": EVIL})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive")
    # 1 hromada + 14 villages + 5 starosta districts with areas.
    assert page.locator("path.leaflet-interactive").count() == 20
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert [t.strip() for t in labels] == ["Територіальні громади", "Населені пункти", "Відповідальні підрозділи"]
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
