"""An outside body acts on its report through the signed link in its mail (issue #14): acknowledge,
a public note, resolved (the reporter is told), "not ours"; refused links change nothing."""
import re
import time
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from gis import outbox
from gis.config import DEMO_KATOTTG
from layers import unit_mail
from tests.helpers import asset_point, confirm_addresses, demo_hromada_id, scalar, unit_id
from tests.webmap.test_reports_http import form_token, submit

REPORTER = "reporter@example.org"
ROAD_SERVICE = "road-service@yakushynetska-demo.example.org"
HOUSING = "housing@yakushynetska-demo.example.org"
SECRET = "test-secret"  # the app fixture's SECRET_KEY
VIA = "через посилання / via link: road_service"


def enable(engine) -> None:
    """Let the demo hromada take reports (its set-up file does this too; harmless twice), and give its
    units the addresses and the mode these tests expect, whatever that file says."""
    with engine.begin() as conn:
        conn.execute(sa.text("""UPDATE unit SET notify_mode = 'each', has_accounts = true,
                                emails = ARRAY[replace(code, '_', '-') || '@yakushynetska-demo.example.org']"""))
        conn.execute(sa.text("""INSERT INTO hromada_setup (hromada_id, enabled_at)
                                SELECT id, now() FROM hromada WHERE katottg = :k
                                ON CONFLICT (hromada_id) DO UPDATE
                                SET enabled_at = COALESCE(hromada_setup.enabled_at, now())"""), {"k": DEMO_KATOTTG})


@pytest.fixture
def demo(demo_db):
    enable(demo_db)
    return demo_db


@pytest.fixture
def outside_body(demo):
    # Until the demo's set-up file says so, the road service is made an e-mail-only outside body here.
    with demo.begin() as conn:
        conn.execute(sa.text("UPDATE unit SET has_accounts = false WHERE code = 'road_service'"))
    return demo


def state_road_report(client, engine, **extra) -> dict:
    lon, lat = asset_point(engine, "road_segment", "M-DEMO")
    answer = submit(client, lat=lat + 0.00005, lon=lon, category="pothole", description="Глибока вибоїна на трасі",
                    email=REPORTER, **extra)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def link_from_mail(store) -> str:
    """The path of the signed link in the road service's one mail."""
    mails = store.to(ROAD_SERVICE)
    assert len(mails) == 1
    url = re.search(r"\S+/unit-link/\S+", mails[0]["body"]).group(0)
    return urlsplit(url).path


def post(client, path, action, **data):
    page = client.get(path)
    data.setdefault("csrf_token", form_token(page.get_data(as_text=True)))
    return client.post(f"{path}/{action}", data=data)


def state(engine, code) -> dict:
    """Everything a refused link must leave as it was."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("""
            SELECT r.status, r.unit_id, (SELECT count(*) FROM report_event e WHERE e.report_id = r.id) AS events,
                   (SELECT count(*) FROM audit_log) AS audits, (SELECT count(*) FROM outbox) AS mails
            FROM report r WHERE r.code = :c"""), {"c": code}).mappings().one())


def events(engine, code) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text("""
            SELECT e.kind, e.to_status, e.user_id, e.public_note, e.private_note FROM report_event e
            JOIN report r ON r.id = e.report_id WHERE r.code = :c ORDER BY e.id"""), {"c": code}).all()


def audits(engine, code) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT actor, action, hromada_id, user_id FROM audit_log WHERE object = :c "
                                    "ORDER BY id"), {"c": code}).all()


def test_the_link_acknowledges_and_resolves_and_the_reporter_is_told(client, outside_body, smtp_server):
    settings, store = smtp_server
    confirm_addresses(outside_body, REPORTER)
    report = state_road_report(client, outside_body)
    code = report["code"]
    outbox.deliver_due(outside_body, settings)
    path = link_from_mail(store)

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and "no-store" in page.headers["Cache-Control"]
    assert code in html and "Глибока вибоїна на трасі" in html and REPORTER not in html
    for field in ("resolution", "note", "reason"):
        assert re.search(rf'<label for="{field}">', html) and f'id="{field}"' in html

    answer = post(client, path, "acknowledge")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=acknowledge")
    assert client.get(answer.headers["Location"]).headers["Referrer-Policy"] == "no-referrer"
    # Resolving needs a note for residents: without one, a 400 and nothing changes.
    before = state(outside_body, code)
    refused = post(client, path, "resolve", resolution="   ")
    assert refused.status_code == 400 and "напишіть, що зроблено" in refused.get_data(as_text=True)
    assert state(outside_body, code) == before
    assert post(client, path, "note", note="Бригада виїде в четвер").status_code == 303
    assert post(client, path, "resolve", resolution="Яму залатано").status_code == 303
    assert scalar(outside_body, "SELECT status FROM report WHERE code = :c", c=code) == "resolved"

    history = events(outside_body, code)
    assert [(e.kind, e.to_status) for e in history] == [
        ("created", "new"), ("status", "acknowledged"), ("note", None), ("status", "resolved")]
    assert all(e.user_id is None and e.private_note == VIA for e in history[1:])
    assert history[2].public_note == "Бригада виїде в четвер" and history[3].public_note == "Яму залатано"
    assert [(a.actor, a.action) for a in audits(outside_body, code)] == [
        ("link: road_service", "unit_link.acknowledge"), ("link: road_service", "unit_link.note"),
        ("link: road_service", "unit_link.resolve")]
    assert {a.hromada_id for a in audits(outside_body, code)} == {demo_hromada_id(outside_body)}

    outbox.deliver_due(outside_body, settings)
    told = store.to(REPORTER)
    assert [m["subject"].split(" / ")[0] for m in told] == [
        f"Звернення {code} отримано", f"Звернення {code} прийнято в роботу",
        f"Новий коментар до звернення {code}", f"Звернення {code} вирішено"]
    assert "Бригада виїде в четвер" in told[2]["body"] and "Яму залатано" in told[3]["body"]
    assert all(VIA not in m["body"] for m in told)
    public = client.get(f"/reports/{quote(code)}").get_data(as_text=True)
    assert "Яму залатано" in public and "Бригада виїде в четвер" in public and "via link" not in public

    # Closed now: acknowledging again is a clear 409 that changes nothing.
    before = state(outside_body, code)
    again = post(client, path, "acknowledge")
    assert again.status_code == 409 and before == state(outside_body, code)


def test_not_ours_goes_back_to_the_default_unit_which_is_told(client, outside_body, smtp_server):
    settings, store = smtp_server
    with outside_body.begin() as conn:
        conn.execute(sa.text("INSERT INTO hromada_setup (hromada_id, enabled_at, default_unit_id) "
                             "VALUES (:h, now(), :u) ON CONFLICT (hromada_id) DO UPDATE SET default_unit_id = :u"),
                     {"h": demo_hromada_id(outside_body), "u": unit_id(outside_body, "housing")})
    code = state_road_report(client, outside_body)["code"]
    outbox.deliver_due(outside_body, settings)
    path = link_from_mail(store)
    done = post(client, path, "not-ours", reason="Це місцева дорога, не державна")
    assert done.status_code == 200 and "повернуто громаді" in done.get_data(as_text=True)
    housing_id = scalar(outside_body, "SELECT unit_id FROM report WHERE code = :c", c=code)
    assert housing_id == unit_id(outside_body, "housing")
    transfer = events(outside_body, code)[-1]
    assert transfer.kind == "transfer" and transfer.user_id is None
    assert transfer.private_note == f"не наше / not ours: Це місцева дорога, не державна — {VIA}"
    assert [a.action for a in audits(outside_body, code)] == ["unit_link.not_ours"]
    outbox.deliver_due(outside_body, settings)
    housing = store.to(HOUSING)
    assert len(housing) == 1 and "Це місцева дорога, не державна" in housing[0]["body"]
    assert housing[0]["subject"].startswith(f"Вам передано звернення {code}")
    # The report has left the unit: the link no longer opens or acts on it.
    before = state(outside_body, code)
    assert client.get(path).status_code == 403
    csrf = client.get("/api/csrf-token").get_json()["csrf_token"]
    assert client.post(f"{path}/acknowledge", data={"csrf_token": csrf}).status_code == 403
    assert state(outside_body, code) == before


def test_not_ours_without_a_default_unit_leaves_a_note_for_the_administrators(client, outside_body, smtp_server):
    settings, store = smtp_server
    code = state_road_report(client, outside_body)["code"]
    outbox.deliver_due(outside_body, settings)
    path = link_from_mail(store)
    answer = post(client, path, "not-ours", reason="Не наша ділянка")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=not_ours_kept")
    note = events(outside_body, code)[-1]
    assert note.kind == "note" and note.public_note is None and note.private_note.startswith("не наше / not ours")
    assert scalar(outside_body, "SELECT u.code FROM report r JOIN unit u ON u.id = r.unit_id WHERE r.code = :c",
                  c=code) == "road_service"


def test_expired_forged_and_other_report_links_are_refused_and_change_nothing(app, client, outside_body):
    road = state_road_report(client, outside_body)
    lon, lat = asset_point(outside_body, "road_segment", "вул. Садова")
    other = submit(client, lat=lat, lon=lon, category="pothole", description="Яма на вулиці").get_json()
    assert other["unit"]["uk"].startswith("Відділ житлово")
    road_service = unit_id(outside_body, "road_service")
    csrf = client.get("/api/csrf-token").get_json()["csrf_token"]

    def refused(token, status, words):
        before = (state(outside_body, road["code"]), state(outside_body, other["code"]))
        page = client.get(f"/unit-link/{token}")
        assert page.status_code == status and words in page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "no-referrer"
        for action, data in (("acknowledge", {}), ("resolve", {"resolution": "x"}), ("not-ours", {"reason": "x"})):
            assert client.post(f"/unit-link/{token}/{action}", data={"csrf_token": csrf, **data}).status_code == status
        assert (state(outside_body, road["code"]), state(outside_body, other["code"])) == before

    # A genuine signature on another report (one the road service does not hold): 403.
    refused(unit_mail.make_link_token(SECRET, other["id"], road_service), 403, "no longer with your unit")
    # Signed with another key, tampered with, or made for something else (a session-like payload): 404.
    genuine = unit_mail.make_link_token(SECRET, road["id"], road_service)
    refused(unit_mail.make_link_token("not the app's key", road["id"], road_service), 404, "not valid")
    refused(genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB"), 404, "not valid")
    from itsdangerous import URLSafeTimedSerializer
    refused(URLSafeTimedSerializer(SECRET, salt="other").dumps({"r": road["id"], "u": road_service}), 404,
            "not valid")
    refused(unit_mail._serializer(SECRET).dumps({"r": str(road["id"]), "u": road_service}), 404, "not valid")
    # Expired: the same genuine link once its time is up (a tiny maximum age here).
    app.config["UNIT_LINK_MAX_AGE_SECONDS"] = 1
    time.sleep(2.1)
    refused(genuine, 410, "Термін дії посилання минув")
    del app.config["UNIT_LINK_MAX_AGE_SECONDS"]
    assert client.get(f"/unit-link/{genuine}").status_code == 200  # still good within 30 days
    # Without the CSRF token a form is refused too.
    assert client.post(f"/unit-link/{genuine}/acknowledge").status_code == 400
    assert client.post(f"/unit-link/{genuine}/no-such-action", data={"csrf_token": csrf}).status_code == 404
    assert scalar(outside_body, "SELECT count(*) FROM audit_log WHERE action LIKE 'unit_link.%'") == 0


def test_a_unit_with_accounts_gets_no_link_and_its_token_would_not_work(client, demo):
    demo_db = demo  # the road service has accounts here
    code = state_road_report(client, demo_db)["code"]
    body = scalar(demo_db, "SELECT body FROM outbox WHERE to_addr = :a", a=ROAD_SERVICE)
    assert "/unit-link/" not in body and f"/staff/reports/{quote(code)}" in body
    token = unit_mail.make_link_token(SECRET, scalar(demo_db, "SELECT id FROM report WHERE code = :c", c=code),
                                      unit_id(demo_db, "road_service"))
    assert client.get(f"/unit-link/{token}").status_code == 403


def test_the_link_page_at_320px_by_keyboard_passes_axe(live_server, page, outside_body):
    from tests.webmap.test_accessibility import audit

    lon, lat = asset_point(outside_body, "road_segment", "M-DEMO")
    from layers.reports import NewReport, create_report
    with outside_body.begin() as conn:
        report = create_report(conn, NewReport(lon=lon, lat=lat + 0.00005, category="pothole",
                                               description="Вибоїна"), public_url="http://x")
    token = unit_mail.make_link_token(SECRET, report["id"], unit_id(outside_body, "road_service"))
    page.set_viewport_size({"width": 320, "height": 640})
    for lang in ("uk", "en"):
        assert audit(page, f"{live_server}/unit-link/{token}?lang={lang}") == [], lang
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # nothing wider than the screen
    # Keyboard only: to the resolution field, type, Tab to its button, Enter.
    page.goto(f"{live_server}/unit-link/{token}?lang=uk")
    page.focus("body")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "resolution":
            break
    assert page.evaluate("document.activeElement.id") == "resolution"
    page.keyboard.type("Залатано")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator("[role=status]").inner_text().startswith("Звернення позначено вирішеним")
    assert scalar(outside_body, "SELECT status FROM report WHERE id = :i", i=report["id"]) == "resolved"
    assert audit(page, page.url) == []
