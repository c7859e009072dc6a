"""Reporting on a village phone (issue #17): a plain HTML form with no JavaScript, a report made with
no connection kept on the phone and sent once, the installable app, the fixed pin of the phone map.
All in Debian's Chromium against the live server and a real PostGIS."""
from __future__ import annotations

import io
import re

import sqlalchemy as sa
from PIL import Image

from tests.helpers import inside, scalar
from tests.webmap.conftest import browser_context
from tests.webmap.test_map_browser import wait_for_map


def jpeg_bytes(taken_at: tuple[float, float] | None = None) -> bytes:
    """A small JPEG; with ``taken_at`` (lon, lat) a camera's GPS tags (whole degrees, minutes, seconds)."""
    exif = Image.Exif()
    if taken_at:
        def dms(value):
            minutes, seconds = divmod(abs(value) * 3600, 60)
            degrees, minutes = divmod(minutes, 60)
            return (float(degrees), float(minutes), round(seconds, 4))
        exif[0x8825] = {1: "N", 2: dms(taken_at[1]), 3: "E", 4: dms(taken_at[0])}
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def photo(name: str = "yama.jpg", taken_at=None) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg_bytes(taken_at)}


def reports_now(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM report")


def test_without_javascript_the_form_files_a_report_with_a_photo(browser, live_server, demo_db):
    context = browser_context(browser, java_script_enabled=False)
    page = context.new_page()
    before = reports_now(demo_db)
    page.goto(live_server + "/")
    # The hromada's categories are in the page: nothing waits for a script.
    page.select_option("#category", "pothole")
    page.fill("#place", "Якушинцi")  # a Latin i, as a phone keyboard may type it
    page.fill("#description", "Яма на дорозі біля ставка")
    page.set_input_files("#photos", photo())
    page.fill("#email", "plain@example.org")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/reports/.+\?token=.+&sent=1"))
    notice = page.locator("p.result[role=status]").inner_text()
    code = re.search(r"ЯК-\d{4}-\d{6}", notice).group(0)
    assert "особисте посилання" in notice
    row = demo_db.connect().execute(sa.text(
        "SELECT r.reporter_email, s.name_uk, (SELECT count(*) FROM report_photo p WHERE p.report_id = r.id) "
        "FROM report r LEFT JOIN settlement s ON ST_Contains(s.boundary, r.location) WHERE r.code = :c"),
        {"c": code}).one()
    assert row == ("plain@example.org", "Якушинці", 1)

    # Back and "send" again (a lost answer, an impatient press): the same report, not a copy.
    page.go_back()
    page.select_option("#category", "pothole")
    page.fill("#place", "Якушинцi")
    page.fill("#description", "Яма на дорозі біля ставка")
    page.set_input_files("#photos", photo())
    page.fill("#email", "plain@example.org")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"&sent=1"))
    assert code in page.locator("h1").inner_text()
    assert reports_now(demo_db) == before + 1
    context.close()


def test_without_javascript_a_problem_keeps_the_form_and_offers_places(browser, live_server, demo_db):
    context = browser_context(browser, java_script_enabled=False)
    page = context.new_page()
    before = reports_now(demo_db)
    page.goto(live_server + "/reports/new")
    page.select_option("#category", "pothole")
    page.fill("#place", "Якушинці")
    page.fill("#email", "plain@example.org")
    page.set_input_files("#photos", photo())
    page.click("#submit-report")  # no description
    error = page.locator("#report-error").inner_text()
    assert "опишіть проблему" in error and "Оберіть фото ще раз" in error
    assert page.input_value("#place") == "Якушинці" and page.input_value("#email") == "plain@example.org"
    assert page.input_value("#category") == "pothole"

    # A place that is nowhere: the form comes back with the closest places to choose from.
    page.fill("#place", "Якушинкі")
    page.fill("#description", "Яма")
    page.click("#submit-report")
    choices = page.locator("fieldset.suggestions label")
    assert "Якушинці" in choices.first.inner_text()  # the closest place comes first
    assert page.input_value("#place") == "Якушинкі" and page.input_value("#description") == "Яма"
    assert reports_now(demo_db) == before
    # Choosing it files the report there.
    choices.first.locator("input[type=radio]").check()
    page.set_input_files("#photos", photo())
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"&sent=1"))
    assert reports_now(demo_db) == before + 1
    assert scalar(demo_db, """SELECT s.name_uk FROM report r JOIN settlement s ON ST_Covers(s.boundary, r.location)
                              ORDER BY r.id DESC LIMIT 1""") == "Якушинці"
    context.close()


def test_a_photo_s_gps_position_is_the_place(browser, live_server, demo_db):
    lon, lat = inside(demo_db, "Якушинці")
    # Without JavaScript: no place given, the photo's position is taken.
    plain = browser_context(browser, java_script_enabled=False)
    page = plain.new_page()
    page.goto(live_server + "/reports/new")
    page.select_option("#category", "pothole")
    page.fill("#description", "Яма, місце — з фото")
    page.set_input_files("#photos", photo(taken_at=(lon, lat)))
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"&sent=1"))
    code = re.search(r"ЯК-\d{4}-\d{6}", page.locator("h1").inner_text()).group(0)
    where = demo_db.connect().execute(sa.text("SELECT ST_X(location), ST_Y(location) FROM report WHERE code = :c"),
                                      {"c": code}).one()
    assert abs(where[0] - lon) < 1e-5 and abs(where[1] - lat) < 1e-5
    plain.close()

    # With JavaScript: the form offers it, and takes it when asked.
    context = browser_context(browser)
    page = context.new_page()
    page.goto(live_server + "/")
    wait_for_map(page)
    page.set_input_files("#photos", photo(taken_at=(lon, lat)))
    page.locator("#use-photo-place").click()
    page.wait_for_selector("#category[data-loaded-for]")
    assert abs(float(page.input_value("#lat")) - lat) < 1e-5
    context.close()


def file_offline(page, context, live_server, demo_db, description: str, photos=None) -> None:
    """Open the map, lose the connection, file a pothole in Якушинці: it waits on the phone."""
    page.goto(live_server + "/")
    wait_for_map(page)
    lon, lat = inside(demo_db, "Якушинці")
    context.set_offline(True)
    page.fill("#lat", f"{lat:.6f}")
    page.fill("#lon", f"{lon:.6f}")
    page.dispatch_event("#lon", "change")
    page.wait_for_function("() => document.getElementById('category-hint').textContent.includes(\"з'єднання\")")
    page.select_option("#category", "pothole")
    page.fill("#description", description)
    if photos is not None:
        page.set_input_files("#photos", photos)
    page.click("#submit-report")
    page.wait_for_selector("#report-result .queued")


def test_a_report_made_offline_waits_on_the_phone_and_is_sent_once(browser, live_server, demo_db):
    context = browser_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    before = reports_now(demo_db)
    file_offline(page, context, live_server, demo_db, "Яма, зв'язку тут немає", photos=photo())
    # Offline the categories at the point could not be asked: the hromada's were offered, and it said so.
    assert "з'єднання" in page.inner_text("#category-hint")
    assert "чекає надсилання" in page.inner_text("#report-result")
    assert reports_now(demo_db) == before

    context.set_offline(False)  # the browser's "online" event sends it
    page.wait_for_function("() => /ЯК-\\d{4}-\\d{6}/.test(document.getElementById('report-result').textContent)")
    code = re.search(r"ЯК-\d{4}-\d{6}", page.inner_text("#report-result")).group(0)
    page.reload()
    wait_for_map(page)
    page.wait_for_timeout(500)  # a second page load tries the queue again: it is empty
    assert reports_now(demo_db) == before + 1
    photos = scalar(demo_db, "SELECT count(*) FROM report_photo p JOIN report r ON r.id = p.report_id "
                             "WHERE r.code = :c", c=code)
    assert photos == 1
    context.close()


def test_a_queued_report_survives_closing_the_page(browser, live_server, demo_db):
    context = browser_context(browser)
    page = context.new_page()
    before = reports_now(demo_db)
    file_offline(page, context, live_server, demo_db, "Збережено без зв'язку")
    page.close()

    context.set_offline(False)
    again = context.new_page()
    again.goto(live_server + "/")
    again.wait_for_function("() => /ЯК-\\d{4}-\\d{6}/.test(document.getElementById('report-result').textContent)")
    assert reports_now(demo_db) == before + 1
    context.close()


def test_the_map_is_an_installable_app_that_opens_without_a_connection(browser, live_server, demo_db, client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json()
    assert body["display"] == "standalone" and body["start_url"] == "/"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/sw.js")
    assert worker.mimetype == "text/javascript" and "report_queue.js?v=" in worker.get_data(as_text=True)

    context = browser_context(browser)
    page = context.new_page()
    page.goto(live_server + "/")
    wait_for_map(page)
    page.evaluate("() => navigator.serviceWorker.ready")
    page.reload()  # now under the worker, which keeps what the page and the view fetched
    wait_for_map(page)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#report-form")
    assert page.locator("h1").inner_text().startswith("Якушинецька")
    context.close()


def test_on_a_phone_the_map_pans_under_a_fixed_pin_and_report_here_takes_it(browser, live_server, demo_db):
    context = browser_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(live_server + "/")
    wait_for_map(page)
    lon, lat = inside(demo_db, "Якушинці")
    page.evaluate("([lat, lon]) => window[document.querySelector('.folium-map').id].setView([lat, lon], 17)",
                  [lat, lon])
    pin = page.locator(".centre-pin").bounding_box()
    area = page.locator(".folium-map").bounding_box()
    # The pin's tip is the map's centre.
    assert abs(pin["x"] + pin["width"] / 2 - (area["x"] + area["width"] / 2)) < 3
    page.locator("#report-here").tap()
    page.wait_for_selector("#category[data-loaded-for]")
    assert abs(float(page.input_value("#lat")) - lat) < 1e-5 and abs(float(page.input_value("#lon")) - lon) < 1e-5
    assert page.evaluate("document.activeElement.id") == "category"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
