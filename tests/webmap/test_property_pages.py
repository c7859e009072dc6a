"""The communal property register page in Chromium: filters, map, axe audit."""
from tests.webmap.test_accessibility import audit

CODE = "UA05020310000080026"


def test_register_page_filters_in_the_browser(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{CODE}/property")
    assert page.locator("#register-title ~ div table tbody tr").count() == 70
    page.select_option("#f-type", "network")
    page.get_by_role("button", name="Показати").click()
    page.wait_for_url("**type=network**")
    assert page.locator("#register-title ~ div table tbody tr").count() == 14
    assert page.locator("path.leaflet-interactive").count() == 14
    assert audit(page, page.url) == []
    bad = page.goto(f"{live_server}/map/{CODE}/property?condition=shiny")
    assert bad.status == 400
