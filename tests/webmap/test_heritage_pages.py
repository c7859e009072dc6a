"""Heritage pages and e-routes over HTTP and in Chromium."""
import io
from pathlib import Path

import gpxpy
import pyproj
import pytest
import sqlalchemy as sa
from PIL import Image

from layers import eroutes, heritage
from tests.webmap.conftest import settle
from webmap.i18n import format_number

KATOTTG = "UA05020310000080026"
DEMO = "kylymnyk-demo"
GEOD = pyproj.Geod(ellps="WGS84")


def demo_summary(engine) -> dict:
    with engine.connect() as conn:
        return eroutes.route_summary(conn, DEMO)


def test_heritage_page_in_chromium_has_the_legend_objects_living_heritage_and_routes(live_server, page, demo_db):
    page.goto(f"{live_server}/map/{KATOTTG}/heritage?lang=en")
    settle(page)
    assert page.locator("h1").inner_text().startswith("Cultural heritage")
    legend = page.locator("figure.legend").inner_text()
    for words in ("national significance", "local significance", "newly identified object", "UNESCO"):
        assert words in legend
    rows = page.locator("table.heritage-objects tbody tr")
    assert rows.count() == 4
    # by significance: the local ones first, then the newly identified (the order of SIGNIFICANCE)
    assert [rows.nth(i).get_attribute("data-significance") for i in range(4)] == \
        ["local", "local", "newly_identified", "newly_identified"]
    assert "Zhyvyi Vohon" in page.locator("table.living-heritage").inner_text()
    assert "summer" in page.locator("table.living-heritage").inner_text()
    assert page.locator("path.leaflet-interactive").count() >= 8  # the objects and the living heritage
    page.click(f"a[href='/routes/{DEMO}']")
    settle(page)
    assert page.locator("h1").inner_text() == "In the footsteps of Stepan Kylymnyk (demo)"


def test_every_colour_on_the_heritage_map_has_a_legend_entry_of_its_own(live_server, page, demo_db):
    """Issue #17: the living heritage was drawn violet with no legend entry, next to the legend's UNESCO violet."""
    page.goto(f"{live_server}/map/{KATOTTG}/heritage")
    settle(page)
    drawn = set(page.evaluate("""() => [...document.querySelectorAll('.folium-map .leaflet-pane path')]
        .flatMap(p => [p.getAttribute('stroke'), p.getAttribute('fill')]).filter(c => c && c !== 'none')"""))
    swatches = page.locator("figure.legend .swatch").evaluate_all(
        "spans => spans.map(s => s.getAttribute('style').replace('background:', '').trim())")
    assert {"#2b8a3e", "#212529"} <= drawn  # the living heritage and the hromada's boundary are on the map
    assert drawn <= set(swatches), drawn - set(swatches)
    assert len(set(swatches)) == len(swatches)  # distinct meanings, distinct colours
    assert "Межа громади" in page.locator("figure.legend").inner_text()


def test_route_page_shows_the_stops_in_order_a_qr_code_and_the_length(live_server, page, demo_db):
    summary = demo_summary(demo_db)
    page.goto(f"{live_server}/routes/{DEMO}")
    settle(page)
    names = page.locator("ol.stops > li .stop-name").all_inner_texts()
    assert names == [s["name_uk"] for s in summary["stops"]] and len(names) == 5
    assert names[0].startswith("Якушинці, будинок культури") and names[1].startswith("Пам'ятний знак")
    qr = page.locator(".route-qr svg")
    assert qr.count() == 1 and qr.locator("path").count() >= 1
    assert page.locator(".route-qr figcaption").inner_text() == f"{live_server}/routes/{DEMO}"
    assert page.locator("#route-length").inner_text() == f"{format_number(summary['length_m'] / 1000, 1, 'uk')} км"
    assert page.locator("#walking-time").inner_text() == f"{summary['walking_min']} хв"
    assert page.locator(".leaflet-overlay-pane path").count() >= 6  # the line and five stops
    assert "демо" in page.locator(".demo-note").inner_text().lower()


def test_gpx_download_parses_with_the_stops_and_line_in_order(live_server, page, demo_db):
    summary = demo_summary(demo_db)
    page.goto(f"{live_server}/routes/{DEMO}")
    with page.expect_download() as info:
        page.click(f"a[href='/routes/{DEMO}.gpx']")
    download = info.value
    assert download.suggested_filename == f"{DEMO}.gpx"
    gpx = gpxpy.parse(Path(download.path()).read_text(encoding="utf-8"))
    stops = summary["stops"]
    assert [w.name for w in gpx.waypoints] == [f"{s['position']}. {s['name_uk']}" for s in stops]
    points = gpx.tracks[0].segments[0].points
    assert len(points) == len(stops)
    for p, s in zip(points, stops, strict=True):
        assert (p.longitude, p.latitude) == pytest.approx((s["lon"], s["lat"]), abs=1e-7)
    # the length the page states, against pyproj's geodesic over the GPX's own track
    lons, lats = [p.longitude for p in points], [p.latitude for p in points]
    assert GEOD.line_length(lons, lats) == pytest.approx(summary["length_m"], abs=0.5)
    assert gpx.link == f"{live_server}/routes/{DEMO}"


def test_route_downloads_and_api(client, demo_db):
    geo = client.get(f"/routes/{DEMO}.geojson")
    assert geo.status_code == 200 and geo.mimetype == "application/geo+json"
    assert geo.json["features"][0]["geometry"]["type"] == "LineString"
    assert len(geo.json["features"]) == 6
    listed = client.get(f"/api/hromadas/{KATOTTG}/routes").json
    assert [r["code"] for r in listed["routes"]] == [DEMO] and listed["routes"][0]["stops"] == 5
    assert listed["speeds_kmh"] == {"walking": 4.5, "cycling": 15.0}
    gpx = client.get(f"/routes/{DEMO}.gpx?lang=en")
    assert gpx.mimetype == "application/gpx+xml"
    assert gpxpy.parse(gpx.get_data(as_text=True)).name == "In the footsteps of Stepan Kylymnyk (demo)"


@pytest.mark.parametrize("path", ["/routes/no-such-route", "/routes/no-such-route.gpx", "/routes/no-such-route.geojson",
                                  "/routes/Bad%20Code!", "/heritage/objects/999999", "/heritage/photos/999999.jpg",
                                  "/map/UA99999999999999999/heritage"])
def test_unknown_things_are_404_not_500(client, demo_db, path):
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    message = response.json["message"]
    assert message["uk"] and message["en"] and message["uk"] != message["en"]


def test_bad_katottg_is_400(client, demo_db):
    assert client.get("/map/UA123/heritage").status_code == 400
    assert client.get("/api/hromadas/UA123/routes").json["error"] == "invalid_input"


def test_everything_shown_is_escaped(client, demo_db):
    evil = "<script>alert(1)</script>"
    with demo_db.begin() as conn:
        obj_id = conn.execute(sa.text("SELECT min(id) FROM heritage_object")).scalar()
        conn.execute(sa.text("UPDATE heritage_object SET name_uk = :n, dating = :n WHERE id = :id"),
                     {"n": evil, "id": obj_id})
        conn.execute(sa.text("UPDATE cultural_potential SET link = 'javascript:alert(1)', description = :n"),
                     {"n": evil})
        eroutes.create_route(conn, eroutes.parse_route({
            "code": "evil", "hromada": KATOTTG, "title": evil, "description": evil,
            "stops": [{"object": obj_id, "description": evil}, {"lon": 28.3, "lat": 49.25, "name": evil}]}))
    for path in (f"/map/{KATOTTG}/heritage", "/routes/evil", f"/heritage/objects/{obj_id}"):
        body = client.get(path).get_data(as_text=True)
        assert evil not in body, path
        assert "&lt;script&gt;" in body, path
        assert 'href="javascript:' not in body, path


def test_object_page_shows_photos_without_exif(client, demo_db):
    image = Image.new("RGB", (80, 60), (10, 120, 40))
    exif = image.getexif()
    exif[0x010F] = "SecretCam"
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif)
    with demo_db.begin() as conn:
        obj_id = conn.execute(sa.text("SELECT id FROM heritage_object WHERE name_uk LIKE 'Садиба%'")).scalar()
        photo_id = heritage.add_photo(conn, obj_id, raw.getvalue(), caption="Фасад", author="Громада")
    body = client.get(f"/heritage/objects/{obj_id}").get_data(as_text=True)
    assert f"/heritage/photos/{photo_id}.jpg?size=thumb" in body and "Фасад" in body
    assert "garden and park art" in client.get(f"/heritage/objects/{obj_id}?lang=en").get_data(as_text=True)
    photo = client.get(f"/heritage/photos/{photo_id}.jpg")
    assert photo.mimetype == "image/jpeg" and b"SecretCam" not in photo.data
    assert b"SecretCam" not in client.get(f"/heritage/photos/{photo_id}.jpg?size=thumb").data


def test_routes_cli_creates_from_yaml_and_refuses_bad_files(demo_db, database_url, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    good = tmp_path / "route.yaml"
    good.write_text(f"""code: dashkivtsi-loop
hromada: {KATOTTG}
title: {{uk: Дашківецька петля, en: Dashkivtsi loop}}
modes: [walking]
stops:
  - {{lon: 28.2687607, lat: 49.2984692, name: Центр Дашківців}}
  - register_no: null
    lon: 28.28
    lat: 49.30
    name: Ставок
    description: {{uk: Зупинка біля ставка}}
""", encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(main, ["routes", "create", str(good)])
    assert done.exit_code == 0, done.output
    assert "dashkivtsi-loop: 2" in done.output
    again = runner.invoke(main, ["routes", "create", str(good)])
    assert again.exit_code == 1 and "exists already" in again.output and "Traceback" not in again.output
    listed = runner.invoke(main, ["routes", "list"])
    assert "dashkivtsi-loop" in listed.output and DEMO in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: x\nstops: [", encoding="utf-8")
    broken = runner.invoke(main, ["routes", "create", str(bad)])
    assert broken.exit_code == 1 and "cannot be read" in broken.output
    assert runner.invoke(main, ["routes", "delete", "dashkivtsi-loop"]).exit_code == 0
