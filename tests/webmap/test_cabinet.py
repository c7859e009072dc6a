"""The resident's cabinet (issue #18) in Chromium, over a real SMTP server: sign in by the mailed link,
see the reports filed earlier, change a setting, delete the account — after which the person's name,
e-mail and phone are nowhere: not in public outputs, not on the staff pages, not in the database."""
import re
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from gis import outbox
from layers import area_alerts, plans, venue_proposals
from tests.helpers import inside, scalar
from tests.webmap.conftest import browser_context
from tests.webmap.test_reports_http import EMAIL, NAME, PHONE, add_staff, lamp_report, log_in, submit

K = "UA05020310000080026"


def sign_in_link(store) -> str:
    [mail] = [m for m in store.to(EMAIL) if "кабінет" in m["body"]][-1:]
    return urlsplit(re.search(r"https?://\S+/cabinet/sign-in/\S+", mail["body"]).group(0)).path


def file_two_reports(client, demo_db) -> list[str]:
    lon, lat = inside(demo_db, "Якушинці")
    first = lamp_report(client, demo_db).get_json()["code"]
    second = submit(client, lat=lat, lon=lon, category="pothole", description="Яма на дорозі до ставу",
                    name=NAME, email=EMAIL.upper(), phone=PHONE).get_json()["code"]
    return [first, second]


def columns_holding(engine, needle: str) -> list[str]:
    """Every table.column of the database whose text holds ``needle`` (case-insensitive)."""
    found = []
    with engine.connect() as conn:
        tables = conn.execute(sa.text("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
            """)).all()
        for table, column in tables:
            hits = conn.execute(sa.text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE :n'),
                                {"n": f"%{needle}%"}).scalar()
            if hits:
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def earlier(client, demo_db):
    """Two reports, a venue proposal and a plan comment given with the address before any sign-in."""
    codes = file_two_reports(client, demo_db)
    with demo_db.begin() as conn:
        venue = conn.execute(sa.text("SELECT min(id) FROM venue")).scalar()
        venue_proposals.propose(conn, facts={"toilet_accessible": True}, venue_id=venue, comment="Є туалет",
                                name=NAME, email=EMAIL)
        hromada, village = conn.execute(sa.text(
            "SELECT hromada_id, id FROM settlement WHERE name_uk = 'Якушинці'")).one()
        area_alerts.subscribe(conn, hromada, EMAIL, area_alerts.resolve_place(conn, hromada, settlement=village),
                              public_url="http://example.org")
        plan = conn.execute(sa.text("SELECT min(id) FROM plan WHERE status = 'discussion'")).scalar()
        if plan is not None:
            plans.add_comment(conn, plan, "Потрібен тротуар", author_name=NAME, author_email=EMAIL)
    return codes


def test_cabinet_sign_in_reports_settings_and_erasure(browser, live_server, client, demo_db, smtp_server, earlier):
    settings, store = smtp_server
    context = browser_context(browser)
    page = context.new_page()
    page.goto(live_server + "/cabinet/")
    page.fill("#cabinet-email", EMAIL)
    page.get_by_role("button", name="Надіслати посилання для входу").click()
    page.wait_for_selector("p.result")
    outbox.deliver_due(demo_db, settings)
    path = sign_in_link(store)

    # Opening the link (a mail scanner does) spends nothing; the button signs in, once.
    page.goto(live_server + path)
    page.click("#cabinet-enter")
    page.wait_for_url(re.compile(r"/cabinet/$"))
    mine = page.locator("section[aria-labelledby=my-reports]").inner_text()
    assert all(code in mine for code in earlier) and "(2)" in mine
    assert "Територія: Якушинці" in page.locator("section[aria-labelledby=my-follows]").inner_text()
    again = context.new_page()
    assert again.goto(live_server + path).status == 404  # single use
    again.close()
    # Address confirmed by the link: report mail now reaches it (double opt-in satisfied).
    assert scalar(demo_db, "SELECT confirmed_at IS NOT NULL FROM mail_address WHERE email = :e", e=EMAIL)

    # A report's page, from the cabinet, is the reporter's own view (their name and phone shown to them).
    page.get_by_role("link", name=earlier[1]).click()
    assert PHONE in page.inner_text("main")
    page.go_back()

    page.check("input[name=report_updates][value=daily]")
    page.check("input[name=area_alerts][value=daily]")
    page.click("#save-settings")
    page.wait_for_selector("p.result")
    assert page.is_checked("input[name=report_updates][value=daily]")
    assert scalar(demo_db, "SELECT report_updates FROM resident_setting WHERE email = :e", e=EMAIL) == "daily"
    assert scalar(demo_db, "SELECT frequency FROM area_subscription WHERE email = :e", e=EMAIL) == "daily"

    held = columns_holding(demo_db, EMAIL)
    assert {"area_subscription.email", "report.reporter_email", "report_subscriber.email", "outbox.to_addr",
            "venue_proposal.proposer_email",
            "mail_address.email"} <= set(held), held
    page.check("#confirm-delete")
    page.click("#delete-account-button")
    page.wait_for_selector("h1:has-text('Ваші дані видалено')")
    context.close()

    # Nothing of the person remains, anywhere: the database first, then what people can read.
    for secret in (EMAIL, NAME, PHONE, "123 45 67"):
        assert columns_holding(demo_db, secret) == [], secret
    assert scalar(demo_db, "SELECT count(*) FROM report WHERE reporter_erased_at IS NOT NULL") == 2
    public = [f"/reports/{quote(c)}" for c in earlier] + [f"/api/reports/{quote(c)}" for c in earlier] + [
        "/open311/v2/requests.json", "/open311/v2/requests.xml", f"/map/{K}/layers/reports",
        "/api/layers/reports/items?limit=1000", "/api/layers/reports/export.csv", "/api/layers/reports/export.geojson",
        "/ogc/collections/reports/items?limit=1000"]
    for path in public:
        text = client.get(path).get_data(as_text=True)
        assert not any(secret in text for secret in (EMAIL, NAME, PHONE)), path
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    for code in earlier:
        staff_page = client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
        assert not any(secret in staff_page for secret in (EMAIL, NAME, PHONE))
        assert "видалено на прохання мешканця" in staff_page
        assert "Дані заявника видалено" in staff_page  # the history says that it happened, not what was there
    queue = client.get("/staff/").get_data(as_text=True)
    assert not any(secret in queue for secret in (EMAIL, NAME, PHONE))


def test_sign_in_links_are_throttled_expire_and_say_nothing_of_the_address(client, demo_db, smtp_server):
    settings, store = smtp_server
    from tests.webmap.test_reports_http import form_token

    def ask(email):
        token = form_token(client.get("/cabinet/").get_data(as_text=True))
        return client.post("/cabinet/sign-in", data={"email": email, "csrf_token": token})

    first, second = ask(EMAIL), ask(EMAIL)
    assert first.status_code == second.status_code == 200
    assert first.get_data(as_text=True) == second.get_data(as_text=True)  # the same answer either way
    outbox.deliver_due(demo_db, settings)
    assert len(store.to(EMAIL)) == 1  # one link a minute
    assert ask("not an address").status_code == 400
    path = sign_in_link(store)
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE resident_link SET expires_at = now() - interval '1 second'"))
    assert client.get(path).status_code == 404
    assert client.get("/cabinet/sign-in/forged").status_code == 404
    # Without signing in the cabinet's actions are refused and change nothing.
    token = form_token(client.get("/cabinet/").get_data(as_text=True))
    assert client.post("/cabinet/delete", data={"confirm": "yes", "csrf_token": token}).status_code == 401
    assert scalar(demo_db, "SELECT count(*) FROM report WHERE reporter_erased_at IS NOT NULL") == 0


def test_a_follower_who_chose_the_daily_digest_gets_one_mail_a_day(client, demo_db, smtp_server):
    import datetime as dt

    from layers import cabinet, followers
    settings, store = smtp_server
    code = lamp_report(client, demo_db).get_json()["code"]
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE mail_address SET confirmed_at = now() WHERE email = :e"), {"e": EMAIL})
        cabinet.set_report_updates(conn, EMAIL, "daily")
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    from tests.webmap.test_reports_http import staff_post
    assert staff_post(client, code, "status", status="acknowledged").status_code == 302
    assert staff_post(client, code, "status", status="in_progress").status_code == 302
    outbox.deliver_due(demo_db, settings)
    assert len(store.to(EMAIL)) == 1  # only "received"; the changes wait for the digest
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    for _ in range(2):  # run twice: still one digest
        with demo_db.begin() as conn:
            followers.queue_digests(conn, tomorrow, "http://example.org")
    outbox.deliver_due(demo_db, settings)
    digests = store.to(EMAIL)[1:]
    assert len(digests) == 1
    assert digests[0]["body"].count(f"Стан звернення {code}") == 2  # both changes, in one mail
    assert digests[0]["message"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
