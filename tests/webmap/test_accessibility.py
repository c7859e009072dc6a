"""An automated WCAG 2.1 A/AA audit (axe-core, in Chromium) of every kind of page we serve."""
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.axe import violations
from tests.helpers import asset_point
from tests.webmap.conftest import settle
from tests.webmap.reflow import NARROW, reflow_problems
from tests.webmap.test_reports_http import add_staff


def audit(page, url: str) -> list[dict]:
    page.goto(url)
    settle(page)
    return violations(page)


@pytest.fixture
def report_code(demo_db):
    from layers.reports import NewReport, create_report

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        return create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out",
                                             description="Не світить"), public_url="http://x")["code"]


# Every kind of public page; "{report}" is a report filed for the test. One test per page, so that a
# failure names its page and parallel runs (pytest -n) share the work out.
PUBLIC_PAGES = ("/", "/hromadas", "/reports/{report}", "/staff/login",
                "/map/UA05020310000080026/roads", "/map/UA05020310000080026/lighting",
                "/map/UA05020310000080026/reconstruction", "/projects/1",
                "/map/UA05020310000080026/heritage", "/map/UA05020310000080026/land",
                "/map/UA05020310000080026/land/qa", "/routes/kylymnyk-demo", "/heritage/objects/1",
                "/map/UA05020310000080026/coverage", "/map/UA05020310000080026/coverage?zones=hex",
                "/ogc/?f=html", "/ogc/collections?f=html", "/ogc/collections/hromadas/items?f=html",
                # the demo's approved general plan (issue #9): list, plan, a diff, a zone's history
                "/map/UA05020310000080026/plans", "/plans/1", "/plans/1?from=2020-01-01&to=2030-01-01",
                "/plans/zones/1/history",
                # issues #16, #17: the report figures, a layer's list
                "/map/UA05020310000080026/dashboard", "/map/UA05020310000080026/layers/street_lamps",
                # issues #17, #18: the plain report form, the cabinet's sign-in, alerts for an area
                "/reports/new", "/cabinet/", "/alerts?hromada=UA05020310000080026")


# Each page in Ukrainian on a 320 px phone, where it must not scroll sideways either (WCAG's reflow, the
# check test_narrow_screens.py makes of every other public page), and in English on a laptop's screen:
# both languages, both widths, one browser profile a page.
WIDTHS = {"uk": {"width": NARROW, "height": 640}, "en": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_pass_axe(request, live_server, page, demo_db, path):
    if "/coverage" in path:
        from layers.coverage_analysis import analyse

        with demo_db.begin() as conn:
            analyse(conn, conn.execute(sa.text("SELECT id FROM hromada")).scalar())
    if "{report}" in path:  # filed only where a page shows it: a test that writes nothing reuses the database copy
        path = path.format(report=quote(request.getfixturevalue("report_code")))
    for lang, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        url = f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}"
        answer = page.goto(url)
        assert answer.ok, url
        settle(page)
        if lang == "uk":
            assert reflow_problems(page) == {}, url
        assert violations(page) == [], url


def test_staff_and_admin_pages_pass_axe(live_server, page, demo_db, report_code):
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    page.goto(live_server + "/staff/login")
    page.fill("#email", "admin@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    for path in ("/staff/", f"/staff/reports/{quote(report_code)}", "/admin/imports"):
        assert audit(page, live_server + path) == [], path
