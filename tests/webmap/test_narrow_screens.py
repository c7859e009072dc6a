"""Every public page on a 320 px phone, in Chromium: nothing scrolls sideways (issue #17).

The pages test_accessibility.py audits are checked there, in the same visit as their audit; this
test takes every other public page (tests/webmap/reflow.py says what is checked).
"""
import pytest
import sqlalchemy as sa

from layers import coverage_analysis
from tests.webmap.conftest import browser_context, settle
from tests.webmap.reflow import NARROW, reflow_problems
from tests.webmap.test_accessibility import PUBLIC_PAGES, report_code  # noqa: F401  (report_code: a fixture)

K = "UA05020310000080026"


@pytest.fixture
def public_pages(demo_db, report_code):  # noqa: F811
    """The pages to check, beyond those the hromada's map links to (its thematic nav and layer lists)."""
    with demo_db.begin() as conn:
        coverage_analysis.analyse(conn, conn.execute(sa.text("SELECT id FROM hromada")).scalar(), hex_size_m=1500)
        first = {table: conn.execute(sa.text(f"SELECT min(id) FROM {table}")).scalar()
                 for table in ("venue", "plan", "plan_zone", "parcel", "heritage_object", "reconstruction_project")}
    return ["/", f"/map/{K}", f"/map/{K}/coverage?zones=hex", f"/map/{K}/land/qa", f"/map/{K}/dashboard",
            f"/map/{K}/plans", f"/reports/{report_code}", "/venues", f"/venues/{first['venue']}",
            f"/plans/{first['plan']}", f"/plans/zones/{first['plan_zone']}/history", "/hromadas", "/api/layers",
            "/ogc/?f=html", f"/land/parcels/{first['parcel']}", f"/heritage/objects/{first['heritage_object']}",
            f"/projects/{first['reconstruction_project']}", "/routes/kylymnyk-demo", "/reports/new", "/cabinet/",
            f"/alerts?hromada={K}"]


def test_no_public_page_scrolls_sideways_at_320_px(live_server, browser, public_pages, report_code):  # noqa: F811
    # A 320 px window, not a phone's 980 px layout viewport: the API's JSON has no viewport tag to shrink that.
    context = browser_context(browser, viewport={"width": NARROW, "height": 640})
    page = context.new_page()
    page.goto(f"{live_server}/map/{K}")
    linked = page.evaluate("() => [...document.querySelectorAll('nav.thematic a, a[href*=\"/layers/\"]')]"
                           ".map(a => new URL(a.href).pathname)")
    assert len(linked) > 20  # the thematic pages and every layer's list
    audited = {path.format(report=report_code) for path in PUBLIC_PAGES}  # checked in their audit
    pages = [path for path in dict.fromkeys([*public_pages, *linked]) if path not in audited]
    assert len(pages) > 20
    found = {}
    for path in pages:
        answer = page.goto(live_server + path)
        assert answer.ok, path
        settle(page)
        if problems := reflow_problems(page):
            found[path] = problems
    context.close()
    assert found == {}


def test_a_wide_table_scrolls_within_itself_on_a_laptop_screen(live_server, browser, demo_db):
    """At 1366 px the property register's last columns were cut off: it scrolls in its region instead."""
    context = browser_context(browser, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server}/map/{K}/property")
    settle(page)
    box = page.locator(".table-scroll[role=region][aria-labelledby=register-title]")
    assert box.get_attribute("tabindex") == "0"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # wider than the screen: it scrolls
    box.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # the keyboard scrolls it too (smoothly: wait for it)
    page.wait_for_function("() => document.querySelector('.table-scroll').scrollLeft > 0")
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    last = box.locator("thead th").last.evaluate("th => th.getBoundingClientRect().right")
    assert last <= box.evaluate("b => b.getBoundingClientRect().right") + 1  # the last column can be read
    context.close()
