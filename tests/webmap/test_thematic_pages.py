"""The thematic pages as a reader sees them (issue #17): the hromada's boundary on every thematic map, and
numbers and money written one way, the page's language's."""
import json
import re

import pytest
import sqlalchemy as sa

from layers import coverage_analysis
from tests.helpers import scalar
from tests.webmap.conftest import settle
from webmap.mapview import BOUNDARY_COLOUR

K = "UA05020310000080026"
THEMATIC_MAPS = ("coverage", "property", "roads", "lighting", "heritage", "reconstruction", "land", "land/qa",
                 "dashboard")


@pytest.fixture
def analysed(demo_db):
    """The demo with a coverage analysis, so that the coverage page has its map and table."""
    with demo_db.begin() as conn:
        coverage_analysis.analyse(conn, conn.execute(sa.text("SELECT id FROM hromada")).scalar(), hex_size_m=1500)
    return demo_db


@pytest.mark.parametrize("path", [*(f"/map/{K}/{name}" for name in THEMATIC_MAPS), "/plans/1"])
def test_every_thematic_map_draws_the_hromadas_boundary(live_server, page, analysed, path):
    page.goto(live_server + path)
    settle(page)
    outline = page.locator(".leaflet-hromada-boundary-pane path")
    assert outline.count() == 1
    assert outline.get_attribute("stroke") == BOUNDARY_COLOUR and outline.get_attribute("fill") == "none"
    assert outline.evaluate("p => getComputedStyle(p).pointerEvents") == "none"  # clicks go to the layers
    # under every layer (overlays are at 400)
    assert int(page.locator(".leaflet-hromada-boundary-pane").evaluate("p => getComputedStyle(p).zIndex")) < 400
    if path.endswith("/dashboard"):
        return  # its hexagons have no legend
    assert "Межа громади" in page.locator("figure.legend").inner_text()


def test_the_boundary_is_simplified_for_the_map(client, demo_db):
    """The page carries the outline at about a pixel of the first view, not the boundary's every vertex."""
    html = client.get(f"/map/{K}/roads").get_data(as_text=True)
    after_pane = html[html.index('"pane": "hromada-boundary"'):]
    data = re.search(r"_add\((\{.*?\})\);", after_pane, re.S).group(1)
    shape = json.loads(data)["features"][0]["geometry"]
    vertices = len(re.findall(r"\[-?\d+\.?\d*, -?\d+\.?\d*\]", json.dumps(shape)))
    stored = scalar(demo_db, "SELECT ST_NPoints(boundary) FROM hromada WHERE katottg = :k", k=K)
    assert 0 < vertices < stored / 2 and len(data) < 12_000


# A table cell that is a bare number with a decimal point: how "1.22" appeared on a Ukrainian page
# (dates, codes and ranges are not bare numbers).
POINT_DECIMAL_CELL = re.compile(r"<td>\s*-?[\d\s\u00a0]*\d\.\d+\s*</td>")


@pytest.mark.parametrize("path", [*(f"/map/{K}/{name}" for name in THEMATIC_MAPS), "/land/parcels/1",
                                  "/projects/1", "/plans/1"])
def test_ukrainian_pages_write_decimals_with_a_comma(client, analysed, path):
    html = client.get(path + ("&" if "?" in path else "?") + "lang=uk").get_data(as_text=True)
    assert POINT_DECIMAL_CELL.findall(html) == []


def test_money_and_numbers_are_written_the_languages_way(client, demo_db):
    """The property register's year of rent and an area, as Babel writes them: "227 868,00 ₴" and
    "2 437" in Ukrainian (no-break spaces), "UAH 227,868.00" and "2,437" in English — as on every page."""
    area = scalar(demo_db, "SELECT area_m2 FROM communal_property WHERE area_m2 >= 1000 ORDER BY id LIMIT 1")
    for lang, money, area_text, square_metres in (
            ("uk", r"\d{1,3}(\u00a0\d{3})*,\d\d\u00a0₴", f"{int(area) // 1000}\u00a0{int(area) % 1000:03d}", "м²"),
            ("en", r"UAH\u00a0\d{1,3}(,\d{3})*\.\d\d", f"{int(area):,}", "m²")):
        html = client.get(f"/map/{K}/property?lang={lang}").get_data(as_text=True)
        assert re.search(f"<dd>{money}</dd>", html), lang  # the year's rent
        assert f"<td>{area_text}</td>" in html, lang
        assert re.search(rf"<dd>[\d\u00a0,.]+ {square_metres}</dd>", html), lang
