"""Account pages (issue #14): the operator enables a hromada and appoints its administrator, who
accepts the e-mailed invitation (real SMTP) and manages the hromada's staff — and nobody else's;
deactivation ends a signed-in session and a personal API token at once; password reset; and in
Chromium: accepting an invitation by keyboard at 320 px, with axe on every account page."""
import re

import pytest
import sqlalchemy as sa

from gis import accounts, outbox
from gis.audit import By
from gis.user_tokens import create_token
from gis.users import create_user
from tests.helpers import STRYZHAVKA, VINNYTSIA_CITY, load_neighbours, scalar
from tests.webmap.test_accessibility import audit

PASSWORD = "correct horse battery"
LINK = re.compile(r"(https?://[^/\s]+)?(/account/(?:set-password|reset)/[A-Za-z0-9_-]+)")


@pytest.fixture
def places(clean_db):
    """Стрижавська and Вінницька громади, an operator, and a unit with staff in each."""
    load_neighbours(clean_db)
    with clean_db.begin() as conn:
        ids = dict(conn.execute(sa.text("SELECT katottg, id FROM hromada")).all())
        units = {k: conn.execute(sa.text(
            "INSERT INTO unit (hromada_id, code, name_uk, name_en, kind) VALUES (:h, 'roads', 'Дороги', 'Roads', "
            "'department') RETURNING id"), {"h": ids[k]}).scalar() for k in (STRYZHAVKA, VINNYTSIA_CITY)}
        create_user(conn, "operator@example.org", PASSWORD, ["operator"])
        create_user(conn, "city-admin@example.org", PASSWORD, ["admin"], hromada_id=ids[VINNYTSIA_CITY])
        city_staff = create_user(conn, "city-staff@example.org", PASSWORD, ["unit_staff"],
                                 unit_ids=[units[VINNYTSIA_CITY]])
    return {"stryzhavka": ids[STRYZHAVKA], "city": ids[VINNYTSIA_CITY], "stryzhavka_unit": units[STRYZHAVKA],
            "city_staff": city_staff}


def form_token(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def post_form(client, page_url, action_url, **data):
    """Open the page (for its CSRF token) and send one of its forms."""
    page = client.get(page_url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(action_url, data={"csrf_token": form_token(page.get_data(as_text=True)), **data})


def log_in(client, email, password=PASSWORD):
    answer = post_form(client, "/staff/login", "/staff/login", email=email, password=password)
    assert answer.status_code == 302, answer.get_data(as_text=True)


def deliver(engine, smtp) -> None:
    settings, _ = smtp
    outbox.deliver_due(engine, settings)


def link_in(store, email) -> str:
    """The path of the one-time link in the only mail to ``email``."""
    mails = store.to(email)
    assert len(mails) == 1, [m["subject"] for m in mails]
    return LINK.search(mails[0]["body"]).group(2)


def test_operator_enables_a_hromada_and_its_administrator_accepts(client, app, clean_db, places, smtp_server):
    _, store = smtp_server
    assert client.get("/operator/").status_code == 302  # anonymous: to the log-in page
    log_in(client, "operator@example.org")
    listing = client.get("/operator/?q=Стриж").get_data(as_text=True)
    assert STRYZHAVKA in listing and VINNYTSIA_CITY not in listing
    assert VINNYTSIA_CITY in client.get("/operator/?q=UA050200").get_data(as_text=True)
    assert client.get("/operator/?page=abc").status_code == 200
    assert client.get("/operator/hromadas/UA99999999999999999").status_code == 404

    page = f"/operator/hromadas/{STRYZHAVKA}"
    enabled = post_form(client, page, f"{page}/enable")
    assert enabled.status_code == 302
    assert scalar(clean_db, "SELECT enabled_at IS NOT NULL FROM hromada_setup WHERE hromada_id = :h",
                  h=places["stryzhavka"])
    assert "Громада приймає звернення" in client.get(page).get_data(as_text=True)

    bad = post_form(client, page, f"{page}/admins", email="not an address")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'aria-invalid="true"' in html and 'id="email-error"' in html
    assert scalar(clean_db, "SELECT count(*) FROM account_token") == 0
    appointed = post_form(client, page, f"{page}/admins", email="head@stryzhavka.example.org", full_name="Голова")
    assert appointed.status_code == 302
    assert "head@stryzhavka.example.org" in client.get(page).get_data(as_text=True)

    deliver(clean_db, smtp_server)
    deliver(clean_db, smtp_server)
    link = link_in(store, "head@stryzhavka.example.org")  # exactly one mail

    head = app.test_client()
    form = head.get(link)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in form.headers["Cache-Control"]
    token = form_token(form.get_data(as_text=True))
    differ = head.post(link, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD + "!"})
    html = differ.get_data(as_text=True)
    assert differ.status_code == 400 and 'id="confirm-error"' in html and "паролі не збігаються" in html
    assert head.post(link, data={"password": PASSWORD, "confirm": PASSWORD}).status_code == 400  # no CSRF token
    saved = head.post(link, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/account/?saved=1")
    assert saved.headers["Referrer-Policy"] == "no-referrer"
    home = head.get("/account/?saved=1").get_data(as_text=True)
    assert "Пароль збережено" in home and f"/admin/{STRYZHAVKA}/staff" in home

    again = app.test_client().get(link)
    assert again.status_code == 410 and "/account/reset" in again.get_data(as_text=True)
    assert app.test_client().get("/account/set-password/made-up").status_code == 404
    fresh = app.test_client()
    log_in(fresh, "head@stryzhavka.example.org")  # signs in with the password just set

    # The new administrator manages Стрижавська's staff, and nobody else's.
    staff = head.get(f"/admin/{STRYZHAVKA}/staff")
    assert staff.status_code == 200 and "head@stryzhavka.example.org" in staff.get_data(as_text=True)
    assert head.get(f"/admin/{VINNYTSIA_CITY}/staff").status_code == 403
    city_url = f"/admin/{VINNYTSIA_CITY}/staff/{places['city_staff']}/deactivate"
    assert post_form(head, f"/admin/{STRYZHAVKA}/staff", city_url).status_code == 403
    assert post_form(head, f"/admin/{STRYZHAVKA}/staff",
                     f"/admin/{STRYZHAVKA}/staff/{places['city_staff']}/deactivate").status_code == 404
    assert post_form(head, f"/admin/{STRYZHAVKA}/staff", f"/admin/{VINNYTSIA_CITY}/staff",
                     email="x@example.org", roles="admin").status_code == 403
    assert scalar(clean_db, "SELECT is_active FROM app_user WHERE id = :u", u=places["city_staff"])
    assert head.get("/operator/").status_code == 403  # an administrator is not the operator


def test_administrator_invites_and_switches_staff_off(client, app, clean_db, places, smtp_server):
    _, store = smtp_server
    with clean_db.begin() as conn:
        create_user(conn, "admin@example.org", PASSWORD, ["admin"], hromada_id=places["stryzhavka"])
    log_in(client, "admin@example.org")
    page = f"/admin/{STRYZHAVKA}/staff"

    no_role = post_form(client, page, page, email="new@example.org")
    assert no_role.status_code == 400 and 'id="roles-error"' in no_role.get_data(as_text=True)
    foreign_unit = post_form(client, page, page, email="new@example.org", roles="unit_staff",
                             units=str(scalar(clean_db, "SELECT id FROM unit WHERE hromada_id = :h", h=places["city"])))
    assert foreign_unit.status_code == 400 and 'id="units-error"' in foreign_unit.get_data(as_text=True)
    assert scalar(clean_db, "SELECT count(*) FROM app_user WHERE email = 'new@example.org'") == 0
    invited = post_form(client, page, page, email="new@example.org", roles="unit_staff",
                        units=str(places["stryzhavka_unit"]))
    assert invited.status_code == 302
    listing = client.get(page).get_data(as_text=True)
    assert "new@example.org" in listing and "запрошено" in listing

    deliver(clean_db, smtp_server)
    link = link_in(store, "new@example.org")
    staff = app.test_client()
    form = staff.get(link).get_data(as_text=True)
    staff.post(link, data={"csrf_token": form_token(form), "password": PASSWORD, "confirm": PASSWORD})
    assert staff.get(f"/staff/?hromada={STRYZHAVKA}").status_code == 200  # signed in, at work
    with clean_db.begin() as conn:
        _, api_token = create_token(conn, "new@example.org", "QGIS")
    bearer = {"Authorization": f"Bearer {api_token}", "Accept": "application/json"}
    assert staff.application.test_client().get(f"/staff/?hromada={STRYZHAVKA}", headers=bearer).status_code == 200

    new_id = scalar(clean_db, "SELECT id FROM app_user WHERE email = 'new@example.org'")
    me = scalar(clean_db, "SELECT id FROM app_user WHERE email = 'admin@example.org'")
    assert post_form(client, page, f"{page}/{me}/deactivate").status_code == 409  # not oneself
    assert post_form(client, page, f"{page}/{new_id}/deactivate").status_code == 302
    # The session signed in before, and the token, stop at once.
    after = staff.get(f"/staff/?hromada={STRYZHAVKA}")
    assert after.status_code == 302 and "/staff/login" in after.headers["Location"]
    assert app.test_client().get(f"/staff/?hromada={STRYZHAVKA}", headers=bearer).status_code == 401
    assert "вимкнено" in client.get(page).get_data(as_text=True)

    assert post_form(client, page, f"{page}/{new_id}/reactivate").status_code == 302
    assert post_form(client, page, f"{page}/{new_id}/revoke").status_code == 302
    assert "new@example.org" not in client.get(page).get_data(as_text=True)
    actions = scalar(clean_db, "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE hromada_id = :h",
                     h=places["stryzhavka"])
    assert actions == ["account.invite", "account.invitation_accepted", "account.deactivate",
                       "account.reactivate", "account.revoke_roles"]


def test_password_reset_pages(client, app, clean_db, places, smtp_server):
    _, store = smtp_server
    asked = post_form(client, "/account/reset", "/account/reset", email="city-staff@example.org")
    unknown = post_form(app.test_client(), "/account/reset", "/account/reset", email="nobody@example.org")
    assert asked.status_code == unknown.status_code == 200
    assert asked.get_data() == unknown.get_data()  # the answer says nothing about who has an account
    assert post_form(client, "/account/reset", "/account/reset", email="").status_code == 400
    deliver(clean_db, smtp_server)
    link = link_in(store, "city-staff@example.org")
    assert link.startswith("/account/reset/") and store.to("nobody@example.org") == []

    signed_in = app.test_client()
    log_in(signed_in, "city-staff@example.org")  # elsewhere, with the old password
    page = client.get(link)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    short = client.post(link, data={"csrf_token": form_token(page.get_data(as_text=True)), "password": "short",
                                    "confirm": "short"})
    assert short.status_code == 400 and 'id="password-error"' in short.get_data(as_text=True)
    done = client.post(link, data={"csrf_token": form_token(page.get_data(as_text=True)),
                                   "password": "a new password 2", "confirm": "a new password 2"})
    assert done.status_code == 302
    assert client.get(link).status_code == 410
    log_in(app.test_client(), "city-staff@example.org", "a new password 2")
    # A new password ends the sessions signed in with the old one.
    assert signed_in.get(f"/staff/?hromada={VINNYTSIA_CITY}").status_code == 302


# --- in Chromium -------------------------------------------------------------------------------------

def too_wide(page) -> list[str]:
    """What on the page's own content sticks out of a narrow window (a wide table scrolls in its own
    region, on purpose). The site header is base.html's, not these pages'."""
    return page.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => !e.closest('.table-scroll') && e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map(e => e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right))""")


def test_accepting_an_invitation_in_the_browser(live_server, page, clean_db, places, smtp_server):
    _, store = smtp_server
    with clean_db.begin() as conn:
        accounts.invite(conn, email="head@stryzhavka.example.org", roles=["admin"], hromada_id=places["stryzhavka"],
                        by=By("operator@example.org"), public_url=live_server)
    deliver(clean_db, smtp_server)
    [mail] = store.to("head@stryzhavka.example.org")
    link = LINK.search(mail["body"]).group(0)
    assert link.startswith(live_server)

    page.set_viewport_size({"width": 320, "height": 640})
    for lang in ("uk", "en"):
        assert audit(page, f"{link}?lang={lang}") == [], lang
        assert too_wide(page) == []
    page.goto(link + "?lang=uk")
    assert "head@stryzhavka.example.org" in page.inner_text("main")

    # Keyboard only: Tab into the fields, type, Enter. First the passwords differ.
    page.focus("#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm"
    page.keyboard.type(PASSWORD + "x")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_attribute("#confirm", "aria-invalid") == "true"
    assert "confirm-error" in page.get_attribute("#confirm", "aria-describedby")
    assert "не збігаються" in page.inner_text("#confirm-error")
    assert page.inner_text("[role=alert]")
    assert audit(page, page.url) == []  # the page with its errors passes too
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.focus("#confirm")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/account/\?saved=1$"))
    assert "Пароль збережено" in page.inner_text("[role=status]")

    page.click(f"a[href='/admin/{STRYZHAVKA}/staff']")
    page.wait_for_load_state()
    assert "head@stryzhavka.example.org" in page.inner_text("table")
    for path in (f"/admin/{STRYZHAVKA}/staff", "/account/", "/account/reset", "/staff/login"):
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}?lang={lang}") == [], (path, lang)
            assert too_wide(page) == [], (path, lang)
    # The used link now explains itself and offers a new one.
    assert audit(page, link) == []
    assert "/account/reset" in page.inner_html("main")


def test_operator_pages_pass_axe(live_server, page, clean_db, places):
    with clean_db.begin() as conn:
        accounts.enable_hromada(conn, STRYZHAVKA, By("operator@example.org"))
    page.goto(f"{live_server}/staff/login?next=/operator/")
    page.fill("#email", "operator@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/operator/$"))
    for path in ("/operator/", "/operator/?q=Стриж", f"/operator/hromadas/{STRYZHAVKA}"):
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}") == [], (path, lang)
