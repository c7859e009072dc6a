"""Venue search and venue pages in Chromium (keyboard only, axe-core), proposals over HTTP."""
import io

import sqlalchemy as sa
from PIL import Image

from layers import history
from tests.helpers import inside, scalar
from tests.webmap.test_accessibility import audit
from tests.webmap.test_reports_http import add_staff, csrf, form_token, log_in


def add_venues(engine):
    lon, lat = inside(engine, "Якушинці")
    lat += 0.3  # away from the demo's own venues
    with engine.begin() as conn:
        for name, dx, facts in (("Аптека «Рівна»", 0.002, "entrance_level => true, door_width_cm => 100"),
                                ("Аптека «Поріг»", 0.001, "entrance_steps => 1, step_height_cm => 5"),
                                ("Аптека «Сходи»", 0.0005, "entrance_steps => 4, step_height_cm => 16")):
            columns = ", ".join(part.split(" => ")[0] for part in facts.split(", "))
            values = ", ".join(part.split(" => ")[1] for part in facts.split(", "))
            conn.execute(sa.text(f"""INSERT INTO venue (hromada_id, name, category, geom, {columns})
                VALUES ((SELECT id FROM hromada LIMIT 1), :n, 'pharmacy', ST_SetSRID(ST_MakePoint(:x, :y), 4326),
                        {values})"""), {"n": name, "x": lon + dx, "y": lat})
    return lon, lat


def test_search_with_the_keyboard_alone(live_server, page, demo_db):
    lon, lat = add_venues(demo_db)
    page.goto(f"{live_server}/venues?lat={lat}&lon={lon}&profile=blind")  # a first search near a point
    page.goto(f"{live_server}/venues")
    page.keyboard.press("Tab")  # skip link
    # Tab to the first profile radio, then choose "walking aid" with the arrow keys.
    while page.evaluate("document.activeElement.name") != "profile":
        page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "walking"
    page.keyboard.press("ArrowUp")  # back to wheelchair
    while page.evaluate("document.activeElement.id") != "place":
        page.keyboard.press("Tab")
    page.keyboard.type("Якушинці")
    while page.evaluate("document.activeElement.name") != "partial":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("#results-title")
    assert page.evaluate("document.activeElement.id") == "results-title"  # focus lands on the results
    assert "Якушинці" in page.inner_text("#results-title")
    # Near the added venues by coordinates: the list is the answer, nearest first, with reasons.
    page.goto(f"{live_server}/venues?lat={lat}&lon={lon}&profile=wheelchair&partial=y&category=pharmacy")
    items = page.locator("ol.venue-results > li")
    assert items.count() == 2
    assert items.nth(0).locator("h3").inner_text() == "Аптека «Поріг»"
    assert "один поріг 5 см без пандуса" in items.nth(0).inner_text()
    assert items.nth(1).locator("h3").inner_text() == "Аптека «Рівна»"
    assert audit(page, page.url) == []


def test_venue_page_passes_axe_and_takes_a_proposal(live_server, page, demo_db):
    add_venues(demo_db)
    venue = scalar(demo_db, "SELECT id FROM venue WHERE name = 'Аптека «Сходи»'")
    for lang in ("uk", "en"):
        assert audit(page, f"{live_server}/venues/{venue}?lang={lang}") == []
        assert audit(page, f"{live_server}/venues?place=Якушинці&profile=deaf&lang={lang}") == []
    page.goto(f"{live_server}/venues/{venue}?lang=uk")
    assert "4 сходинки 16 см без пандуса" in page.inner_text("#ratings-title + table")
    page.select_option("#f-ramp", "fixed")
    page.fill("#f-ramp_slope_percent", "7")
    page.fill("#comment", "Встановили пандус")
    page.click("text=Надіслати пропозицію")
    page.wait_for_selector(".result[role=status]")
    assert scalar(demo_db, "SELECT facts->>'ramp' FROM venue_proposal WHERE venue_id = :v", v=venue) == "fixed"
    assert scalar(demo_db, "SELECT rating_wheelchair FROM venue WHERE id = :v", v=venue) == "no"  # not yet


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return out.getvalue()


def test_staff_approve_a_proposal_and_its_photo_becomes_public(client, demo_db):
    add_venues(demo_db)
    venue = scalar(demo_db, "SELECT id FROM venue WHERE name = 'Аптека «Сходи»'")
    bad = client.post(f"/venues/{venue}/proposals", data={"csrf_token": csrf(client), "ramp_slope_percent": "круто"})
    assert bad.status_code == 400 and "Ухил пандуса, %: неправильне значення" in bad.get_data(as_text=True)
    sent = client.post(f"/venues/{venue}/proposals", content_type="multipart/form-data", data={
        "csrf_token": csrf(client), "ramp": "fixed", "ramp_slope_percent": "6", "proposer_email": "o@example.org",
        "photos": [(io.BytesIO(jpeg()), "ramp.jpg")]})
    assert sent.status_code == 302
    proposal = scalar(demo_db, "SELECT id FROM venue_proposal WHERE venue_id = :v", v=venue)
    assert client.get(f"/venues/proposals/{proposal}/photos/1.jpg").status_code == 403  # not reviewed yet
    assert "o@example.org" not in client.get(f"/venues/{venue}").get_data(as_text=True)
    add_staff(demo_db, "social@example.org", "social")
    log_in(client, "social@example.org")
    queue = client.get("/staff/venues/proposals").get_data(as_text=True)
    assert "o@example.org" in queue and "Аптека «Сходи»" in queue
    assert client.post(f"/staff/venues/proposals/{proposal}", data={
        "csrf_token": form_token(queue), "decision": "approve", "note": "Перевірено на місці"}).status_code == 302
    assert scalar(demo_db, "SELECT rating_wheelchair FROM venue WHERE id = :v", v=venue) == "fully"
    client.get("/staff/logout")
    page = client.get(f"/venues/{venue}").get_data(as_text=True)
    assert "за пропозицією мешканця" in page and "o@example.org" not in page
    assert "Пандус: — → " in page
    # The history API: anyone sees what changed, not who or on what (no cause, no user).
    public = client.application.test_client().get(f"/api/layers/venues/items/{venue}/history").get_json()
    assert public["access"] == "public" and {"ramp", "ramp_slope_percent"} <= set(public["versions"][0]["changed"])
    assert "cause" not in public["versions"][0] and "user_label" not in public["versions"][0]
    with demo_db.connect() as conn:
        staff_view = history.history_for(conn, "venues", venue, history.FULL)["versions"][0]
    assert staff_view["cause"] == f"proposal:{proposal}" and staff_view["user_id"] is not None
    assert client.get(f"/venues/proposals/{proposal}/photos/1.jpg").status_code == 200
