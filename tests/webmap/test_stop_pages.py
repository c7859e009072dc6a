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


def test_a_survey_adds_facts_that_show_count_in_the_search_and_outlive_a_reimport(client, feed, tmp_path):
    """Staff add what a survey found (the editing mechanism, with history); the next import of the feed
    keeps it; the page shows it; tactile paving makes the stop one for the blind profile."""
    from gis.users import create_user
    from layers import editing, history
    from layers.registry import get_layer

    stops = get_layer("transit_stops")
    stop_id = scalar(feed, "SELECT id FROM transit_stop WHERE page_code = :c", c=CENTRE.removeprefix("/s/"))
    hromada = scalar(feed, "SELECT hromada_id FROM transit_stop WHERE id = :i", i=stop_id)
    with feed.begin() as conn:
        user = create_user(conn, "surveyor@example.org", "correct horse battery", ["unit_staff"], hromada_id=hromada)
        surveyor = editing.Editor(user if isinstance(user, int) else user.id, {hromada: frozenset({"unit_staff"})})
        version = editing.get_feature(conn, stops, stop_id).version
        editing.update_feature(conn, stops, surveyor, stop_id, expected_version=version,
                               properties={"shelter": True, "kerb_height_cm": 18, "tactile_paving": True},
                               reason="обстеження 2026")
        with pytest.raises(InvalidInput):  # a kerb of 95 cm is out of the declared range
            editing.update_feature(conn, stops, surveyor, stop_id, expected_version=version + 1,
                                   properties={"kerb_height_cm": 95})
    import_gtfs(feed, write_feed(tmp_path / "again.zip"), DEMO_KATOTTG)  # the feed again: facts stay
    html = client.get(f"{CENTRE}?at=2026-12-07T07:00").get_data(as_text=True)
    assert re.search(r"<dt>Укриття від негоди</dt><dd>так</dd>", html, re.I)
    assert "<dt>Висота бордюру, см</dt><dd>18</dd>" in html
    blind = client.get(f"/api/venues/search?profile=blind&lat={LAT + 0.0005}&lon={LON}").get_json()["venues"]
    assert [v["name"] for v in blind if v.get("kind") == "transit_stop"] == ["Центр"]
    with feed.connect() as conn:  # the survey's version, before the import replaced the stop's row
        surveyed = [v for v in history.versions(conn, "transit_stops", stop_id) if v["op"] == "update"]
    assert [(v["reason"], v["user_id"], v["row"]["kerb_height_cm"]) for v in surveyed] == [
        ("обстеження 2026", surveyor.user_id, 18)]


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


def realtime_message(vehicles=(), trip_updates=()) -> bytes:
    """A GTFS-Realtime FeedMessage: ``vehicles`` as (vehicle id, trip_id, lat, lon), ``trip_updates`` as
    (trip_id, stop_id, departure delay in s, start_date or None)."""
    from google.transit import gtfs_realtime_pb2

    message = gtfs_realtime_pb2.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1_796_000_000
    for number, (vehicle_id, trip_id, lat, lon) in enumerate(vehicles):
        bus = message.entity.add(id=f"v{number}")
        bus.vehicle.trip.trip_id = trip_id
        bus.vehicle.vehicle.id, bus.vehicle.vehicle.label = vehicle_id, "АВ 1234 ВА"
        bus.vehicle.position.latitude, bus.vehicle.position.longitude = lat, lon
    for number, (trip_id, stop_id, delay, start_date) in enumerate(trip_updates):
        update = message.entity.add(id=f"t{number}").trip_update
        update.trip.trip_id = trip_id
        if start_date:
            update.trip.start_date = start_date
        stop_time = update.stop_time_update.add(stop_id=stop_id)
        stop_time.departure.delay = delay
    message.entity.add(id="alert-only")  # neither: left out
    return message.SerializeToString()


class RealtimeFeed:
    """A local HTTP server answering ``body`` (``status``: 200, or an error) at ``url``."""

    def __init__(self):
        import http.server
        import threading

        feed = self
        self.body, self.status = realtime_message(), 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(feed.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gtfs-rt.pb"
        from webmap import transit as pages

        pages._realtime_cache.pop(self.url, None)  # a port an earlier test's server had: nothing remembered

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def realtime(demo_db, tmp_path):
    """The test feed imported with a live GTFS-Realtime feed (a fresh URL, so nothing cached)."""
    served = RealtimeFeed()
    import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url=served.url)
    yield served
    served.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_vehicle_positions_from_gtfs_realtime(client, demo_db, tmp_path):
    assert client.get(f"/map/{DEMO_KATOTTG}/vehicles.geojson").status_code == 404  # the demo has no live feed
    served = RealtimeFeed()
    served.body = realtime_message(vehicles=[("bus-7", "T1", LAT + 0.002, LON + 0.002)])
    try:
        import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url=served.url)
        answer = client.get(f"/map/{DEMO_KATOTTG}/vehicles.geojson")
        assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
        [vehicle] = answer.get_json()["features"]
        assert vehicle["geometry"]["coordinates"] == pytest.approx([LON + 0.002, LAT + 0.002])
        assert vehicle["properties"]["route"] == "1" and vehicle["properties"]["label"] == "АВ 1234 ВА"
        assert vehicle["properties"]["timestamp"].startswith("2026-")
    finally:
        served.close()
    with pytest.raises(InvalidInput):
        import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url="file:///etc/passwd")


def test_the_realtime_feed_moves_a_vehicle_after_the_cache_window(client, realtime, monkeypatch):
    from webmap import transit as pages

    clock = Clock()
    monkeypatch.setattr(pages, "clock", clock)
    url = f"/map/{DEMO_KATOTTG}/vehicles.geojson"

    def where():
        [vehicle] = client.get(url).get_json()["features"]
        assert vehicle["properties"]["id"] == "bus-7"
        return vehicle["geometry"]["coordinates"]

    realtime.body = realtime_message(vehicles=[("bus-7", "T1", LAT, LON)])  # A
    assert where() == pytest.approx([LON, LAT])
    realtime.body = realtime_message(vehicles=[("bus-7", "T1", LAT + 0.003, LON + 0.001)])  # B
    clock.now += 10
    assert where() == pytest.approx([LON, LAT])  # within the 15 s: every visitor gets the fetch of A
    clock.now += 6
    assert where() == pytest.approx([LON + 0.001, LAT + 0.003])  # after it: B — the vehicle moved


def test_a_trip_update_shows_the_expected_time_beside_the_scheduled_one(client, realtime):
    realtime.body = realtime_message(
        vehicles=[("bus-7", "T1", LAT, LON)],  # one FeedMessage may carry both kinds of entity
        trip_updates=[("T1", "S1", 240, "20261207"),  # +4 min at Центр on Monday's run
                      ("T3", "S1", 120, "20261208")])  # another day's run of T3: not Monday's
    html = client.get(f"{CENTRE}?at=2026-12-07T07:00").get_data(as_text=True)
    assert _rows(html)[0] == ("2026-12-07T08:00", "1", "Лікарня")  # the scheduled time stays
    assert html.count('class="expected"') == 1
    assert "очікується 08:04 (+4 хв)" in html and "live-unavailable" not in html
    english = client.get(f"{CENTRE}?at=2026-12-07T07:00&lang=en").get_data(as_text=True)
    assert "expected 08:04 (+4 min)" in english
    # Another stop of the same trip has no update: no expected time there.
    assert 'class="expected"' not in client.get(f"/s/{DEMO_KATOTTG}-102?at=2026-12-07T07:00").get_data(as_text=True)


@pytest.mark.parametrize("problem", ["error", "corrupt", "down"])
def test_a_failing_feed_leaves_the_timetable_without_expected_times(client, realtime, problem):
    if problem == "error":
        realtime.status = 500
    elif problem == "corrupt":
        realtime.body = b"\xff not a protobuf"
    else:
        realtime.close()
    for _ in range(2):  # the failure is remembered for the cache window too
        answer = client.get(f"{CENTRE}?at=2026-12-07T07:00")
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert _rows(html)[0] == ("2026-12-07T08:00", "1", "Лікарня") and 'class="expected"' not in html
        assert "Дані про рух транспорту зараз недоступні" in html
    assert client.get(f"/map/{DEMO_KATOTTG}/vehicles.geojson").status_code == 502


def test_the_buses_overlay_is_on_the_map_only_with_a_live_feed(client, demo_db, tmp_path):
    plain = client.get(f"/map/{DEMO_KATOTTG}").get_data(as_text=True)
    assert "vehiclesLayer" not in plain and "vehicles.geojson" not in plain
    served = RealtimeFeed()
    try:
        import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG, realtime_url=served.url)
        live = client.get(f"/map/{DEMO_KATOTTG}?lang=en").get_data(as_text=True)
        assert "vehiclesLayer" in live and f"/map/{DEMO_KATOTTG}/vehicles.geojson" in live and "Buses now" in live
    finally:
        served.close()


def test_a_vehicle_appears_on_the_map_and_moves(app, live_server, page, realtime):
    app.config.update(REALTIME_CACHE_S=0, VEHICLES_REFRESH_S=0.5)
    realtime.body = realtime_message(vehicles=[("bus-7", "T1", LAT, LON)])
    page.goto(f"{live_server}/map/{DEMO_KATOTTG}")
    marker = page.locator(".vehicle-marker")
    marker.wait_for()
    assert marker.get_attribute("aria-label") == "Маршрут 1 — АВ 1234 ВА"
    assert marker.inner_text() == "1"
    where = """() => {
        const map = window[document.querySelector('.folium-map').id];
        let found = null;
        map.eachLayer(l => { if (l.options && l.options.title === 'Маршрут 1 — АВ 1234 ВА') found = l.getLatLng(); });
        return found && [found.lat, found.lng];
    }"""
    assert page.evaluate(where) == pytest.approx([LAT, LON])
    realtime.body = realtime_message(vehicles=[("bus-7", "T1", LAT + 0.003, LON + 0.001)])
    page.wait_for_function(f"() => ({where})()[0] > {LAT + 0.002}")
    assert page.evaluate(where) == pytest.approx([LAT + 0.003, LON + 0.001])
    assert page.locator(".vehicle-marker").count() == 1  # the same marker moved
    from tests.axe import violations

    assert [v["id"] for v in violations(page, ".leaflet-marker-pane")] == []
    # The stop page with an expected time: axe-clean and within 320 px too.
    from tests.webmap.conftest import browser_context

    realtime.body = realtime_message(trip_updates=[("T1", "S1", 240, "20261207")])
    assert audit(page, f"{live_server}{CENTRE}?at=2026-12-07T07:00") == []
    assert "очікується 08:04 (+4 хв)" in page.content()
    context = browser_context(page.context.browser, viewport={"width": 320, "height": 640})
    try:
        narrow = context.new_page()
        narrow.goto(f"{live_server}{CENTRE}?at=2026-12-07T07:00&lang=en")
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 320
    finally:
        context.close()
