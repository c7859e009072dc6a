"""Public transport pages (issue #21): a stop's departures at chosen times, its QR poster, the
hromada's posters, the wheelchair search; axe and 320 px in Chromium; the demo's stops."""
import io
import re

import pytest
import zxingcpp
from PIL import Image

from gis.config import DEMO_KATOTTG
from gis.errors import InvalidInput
from importers.gtfs import import_gtfs
from tests.helpers import scalar
from tests.importers.gtfs_feed import LAT, LON, write_feed
from tests.webmap.test_accessibility import audit

CENTRE = f"/s/{DEMO_KATOTTG}-101"


@pytest.fixture
def feed(demo_db, tmp_path):
    import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG)
    return demo_db


def _rows(html: str) -> list[tuple[str, str, str]]:
    """(time, route, direction) of each departure row."""
    rows = re.findall(r'<tr class="departure"[^>]*>\s*<td><time datetime="([^"]+)">[^<]*</time>.*?</td>\s*'
                      r'<td><span class="route-badge">([^<]*)</span>.*?</td>\s*<td>([^<]*)</td>', html, re.S)
    return [(when[:16], route, direction) for when, route, direction in rows]


@pytest.mark.parametrize("at, expected", [
    ("2026-12-07T07:00", [("2026-12-07T08:00", "1", "Лікарня"), ("2026-12-07T23:50", "2", "Лікарня"),
                          ("2026-12-08T00:30", "2", "Школа")]),
    ("2026-12-05T00:10", [("2026-12-05T00:30", "2", "Школа"), ("2026-12-05T10:00", "1", "Школа")]),
    ("2026-12-25T07:00", [("2026-12-25T10:00", "1", "Школа")]),  # Christmas: the weekend timetable
    ("2026-12-26T00:10", [("2026-12-26T10:00", "1", "Школа")]),  # no 24:30:00 after a day without service
])
def test_departures_at_chosen_times(client, feed, at, expected):
    answer = client.get(f"{CENTRE}?at={at}")
    assert answer.status_code == 200
    assert _rows(answer.get_data(as_text=True)) == expected


def test_the_page_is_tiny_plain_escaped_and_bilingual(client, feed):
    answer = client.get(f"{CENTRE}?at=2026-12-07T07:00")
    html = answer.get_data(as_text=True)
    assert len(answer.data) < 8 * 1024, len(answer.data)
    assert "<script" not in html and "folium" not in html and "leaflet" not in html.lower()
    # The scheme: route SH1, the stop and Школа (Лікарня, 900 m north, is outside its ±550 m).
    assert html.count("<polyline") == 1 and html.count("<circle") == 2
    assert "Центр" in html and "Біля ради" in html and "доступна для візка" in html
    assert "автобус 1 — Центр — Лікарня" in html and "автобус 2 — Нічний" in html  # the routes serving it
    assert f"/map/{DEMO_KATOTTG}" in html and "openstreetmap.org/?mlat=49.250000&amp;mlon=28.350000" in html
    assert (f"/reports/new?hromada={DEMO_KATOTTG}&amp;category=transit_stop_problem&amp;lat=49.250000&amp;"
            "lon=28.350000") in html  # the report form, the place and category filled in
    english = client.get(f"{CENTRE}?at=2026-12-07T07:00&lang=en").get_data(as_text=True)
    assert "Next departures" in english and "wheelchair accessible" in english and "bus 1" in english
    hospital = client.get(f"/s/{DEMO_KATOTTG}-103?lang=uk").get_data(as_text=True)
    assert "Лікарня &lt;i&gt;" in hospital and "<i>" not in hospital
    assert "недоступна для візка" in hospital
    assert client.get(f"{CENTRE}?at=yesterday").status_code == 400
    assert client.get(f"/s/{DEMO_KATOTTG}-999").status_code == 404


def test_the_poster_qr_code_decodes_to_the_page_address(live_server, page, feed):
    page.goto(f"{live_server}{CENTRE}/poster")
    assert page.locator("h1").inner_text() == "Центр"
    image = Image.open(io.BytesIO(page.locator(".poster svg").screenshot()))
    decoded = zxingcpp.read_barcodes(image)
    assert [code.text for code in decoded] == [f"{live_server}{CENTRE}"]
    assert "+380 43" not in page.content()  # the agency's phone is not the hromada's contact for reports
    assert f"/reports/new?hromada={DEMO_KATOTTG}" in page.content()
    assert audit(page, f"{live_server}{CENTRE}/poster") == []


def test_every_stop_has_a_poster(client, feed):
    html = client.get(f"/map/{DEMO_KATOTTG}/stops/posters").get_data(as_text=True)
    assert html.count('class="poster"') == 3
    assert "Лікарня &lt;i&gt;" in html and html.count("<svg") == 3


def test_the_stop_page_is_axe_clean_and_fits_320_px(live_server, browser, page, feed):
    from tests.webmap.conftest import browser_context

    for lang in ("uk", "en"):
        assert audit(page, f"{live_server}{CENTRE}?at=2026-12-07T07:00&lang={lang}") == []
    context = browser_context(browser, viewport={"width": 320, "height": 640})
    try:
        narrow = context.new_page()
        for path in (f"{CENTRE}?at=2026-12-07T07:00", f"{CENTRE}/poster"):
            narrow.goto(live_server + path)
            assert narrow.evaluate("document.documentElement.scrollWidth") <= 320, path
    finally:
        context.close()


def test_a_wheelchair_stop_is_found_by_the_wheelchair_search(client, feed):
    html = client.get(f"/venues?profile=wheelchair&lat={LAT + 0.0005}&lon={LON}").get_data(as_text=True)
    assert f'href="{CENTRE}"' in html  # S1: wheelchair_boarding 1
    assert f'href="/s/{DEMO_KATOTTG}-103"' not in html  # S3: 2
    found = client.get(f"/api/venues/search?profile=wheelchair&lat={LAT + 0.0005}&lon={LON}").get_json()["venues"]
    assert [v["name"] for v in found if v.get("kind") == "transit_stop"] == ["Центр"]
    blind = client.get(f"/api/venues/search?profile=blind&lat={LAT + 0.0005}&lon={LON}").get_json()["venues"]
    assert not [v for v in blind if v.get("kind") == "transit_stop"]


def test_the_demo_has_two_routes_and_stop_pages(client, demo_db):
    assert scalar(demo_db, "SELECT count(*) FROM transit_route r JOIN transit_feed f ON f.id = r.feed_id "
                           "WHERE f.is_demo") == 2
    assert scalar(demo_db, "SELECT bool_and(is_demo) FROM transit_stop") is True
    code = scalar(demo_db, "SELECT page_code FROM transit_stop ORDER BY id LIMIT 1")
    html = client.get(f"/s/{code}?at=2026-12-07T05:00").get_data(as_text=True)
    assert "Демонстраційні дані" in html and len(_rows(html)) >= 5
    assert client.get(f"/map/{DEMO_KATOTTG}/stops/posters").status_code == 200
    assert scalar(demo_db, "SELECT count(*) FROM transit_shape WHERE is_demo") == 2


def test_a_problem_at_a_demo_stop_goes_to_the_unit_handling_stops(client, demo_db):
    from gis.routing import route_report

    lon, lat = scalar(demo_db, "SELECT ST_X(geom) FROM transit_stop ORDER BY id LIMIT 1"), \
        scalar(demo_db, "SELECT ST_Y(geom) FROM transit_stop ORDER BY id LIMIT 1")
    with demo_db.connect() as conn:
        routed = route_report(conn, lon, lat, "transit_stop_problem")
    # The demo has no transport unit: its housing department handles stops (demo_setup.yaml).
    assert routed.unit_id == scalar(demo_db, "SELECT id FROM unit WHERE code = 'housing'")
    assert routed.target_days == 7


def test_vehicle_positions_from_gtfs_realtime(client, demo_db, tmp_path):
    import http.server
    import threading

    from google.transit import gtfs_realtime_pb2

    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1_796_000_000
    bus = message.entity.add(id="e1")
    bus.vehicle.trip.trip_id = "T1"
    bus.vehicle.vehicle.id, bus.vehicle.vehicle.label = "bus-7", "АВ 1234 ВА"
    bus.vehicle.position.latitude, bus.vehicle.position.longitude = LAT + 0.002, LON + 0.002
    message.entity.add(id="alert-only")  # no vehicle: left out
    body = message.SerializeToString()

    class Feed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/vehicles.pb"
        assert client.get(f"/map/{DEMO_KATOTTG}/vehicles.geojson").status_code == 404  # the demo has no live feed
        import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url=url)
        answer = client.get(f"/map/{DEMO_KATOTTG}/vehicles.geojson")
        assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
        [vehicle] = answer.get_json()["features"]
        assert vehicle["geometry"]["coordinates"] == pytest.approx([LON + 0.002, LAT + 0.002])
        assert vehicle["properties"]["route"] == "1" and vehicle["properties"]["label"] == "АВ 1234 ВА"
        assert vehicle["properties"]["timestamp"].startswith("2026-")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(InvalidInput):
        import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url="file:///etc/passwd")
