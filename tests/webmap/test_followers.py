"""Residents who follow a report are told of every public change, over a real SMTP server: double
opt-in, one mail per change per confirmed follower, none to an unconfirmed address, RFC 8058 one-click
unsubscribe, "stop all mail" (layers.followers, webmap.mail_links)."""
import re
from urllib.parse import quote, urlsplit

import sqlalchemy as sa

from gis import outbox
from tests.helpers import scalar, unit_id
from tests.webmap.test_reports_http import EMAIL, NAME, PHONE, add_staff, lamp_report, log_in, staff_post

NEIGHBOUR, STRANGER = "neighbour@example.org", "never-confirms@example.org"


def link(mail: dict, kind: str) -> str:
    """The path of a link of ``kind`` (confirm, unsubscribe, stop) in a mail's text."""
    return urlsplit(re.search(rf"https?://\S+/mail/{kind}/\S+", mail["body"]).group(0)).path


def subjects(store, address: str) -> list[str]:
    return [m["subject"].split(" / ")[0] for m in store.to(address)]


def test_followers_are_told_of_every_public_change_and_can_stop_it(app, client, demo_db, smtp_server):
    settings, store = smtp_server
    created = lamp_report(client, demo_db).get_json()
    code = created["code"]
    page = f"/reports/{quote(code)}"

    # A neighbour says "me too" and an unknown address asks to follow, on the report's own page.
    answer = client.post(f"{page}/follow", data={"action": "me_too", "email": NEIGHBOUR})
    assert answer.status_code == 200 and "підтвердження адреси" in answer.get_data(as_text=True)
    assert client.post(f"{page}/follow", data={"action": "follow", "email": STRANGER}).status_code == 200
    bad = client.post(f"{page}/follow", data={"action": "follow", "email": "not-an-address"})
    assert bad.status_code == 400 and "not-an-address" in bad.get_data(as_text=True)
    assert client.post(f"{page}/follow", data={"action": "follow", "email": ""}).status_code == 400

    outbox.deliver_due(demo_db, settings)
    [received] = store.to(EMAIL)
    assert code in received["subject"] and created["private_url"].replace(quote(code), code) in received["body"]
    assert [len(store.to(NEIGHBOUR)), len(store.to(STRANGER))] == [1, 1]  # only the request to confirm

    # Opening a link changes nothing (mail scanners open links); the button does.
    for mail in (received, store.to(NEIGHBOUR)[0]):
        path = link(mail, "confirm")
        shown = client.get(path)
        assert shown.status_code == 200 and "<form" in shown.get_data(as_text=True)
        assert shown.headers["Cache-Control"] == "no-store"
        assert client.post(path).status_code == 200
    assert scalar(demo_db, "SELECT count(*) FROM mail_address WHERE confirmed_at IS NOT NULL") == 2
    assert client.post("/mail/confirm/forged-token").status_code == 400

    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    housing = unit_id(demo_db, "housing")
    assert staff_post(client, code, "status", status="acknowledged").status_code == 302
    assert staff_post(client, code, "status", status="in_progress").status_code == 302
    assert staff_post(client, code, "note", public_note="Бригада приїде в четвер", private_note="").status_code == 302
    assert staff_post(client, code, "note", public_note="", private_note="лише для нас").status_code == 302
    assert staff_post(client, code, "transfer", unit_id=housing, reason="опора на балансі житлового відділу"
                      ).status_code == 302
    assert staff_post(client, code, "status", status="resolved", public_note="Лампу замінено").status_code == 302
    outbox.deliver_due(demo_db, settings)

    told = [f"Звернення {code} прийнято в роботу", f"Звернення {code} у роботі",
            f"Новий коментар до звернення {code}", f"Звернення {code} передано", f"Звернення {code} вирішено"]
    assert subjects(store, EMAIL)[1:] == told
    assert subjects(store, NEIGHBOUR)[1:] == told
    assert len(store.to(STRANGER)) == 1  # never confirmed: nothing but the request
    neighbours = store.to(NEIGHBOUR)[1:]
    assert "Бригада приїде в четвер" in neighbours[2]["body"] and "Лампу замінено" in neighbours[4]["body"]
    assert "Відділ житлово" in neighbours[3]["body"] and "балансі" not in neighbours[3]["body"]
    for mail in neighbours:  # nothing of the reporter, nothing staff-only
        assert not any(secret in mail["body"] for secret in (EMAIL, NAME, PHONE, "лише для нас"))
        assert mail["message"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.fullmatch(r"<https?://\S+/mail/unsubscribe/\S+>", mail["message"]["List-Unsubscribe"])

    # The neighbour's mail client unsubscribes in one click (RFC 8058: a POST, no cookie, no page).
    one_click = urlsplit(neighbours[-1]["message"]["List-Unsubscribe"][1:-1]).path
    mail_client = app.test_client()  # no session, no CSRF token
    assert mail_client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert mail_client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 204  # again: the same
    assert staff_post(client, code, "status", status="reopened").status_code == 302
    outbox.deliver_due(demo_db, settings)
    assert subjects(store, EMAIL)[-1] == f"Звернення {code} відкрито знову"
    assert len(store.to(NEIGHBOUR)) == 6  # nothing more

    # The reporter stops all mail to the address: no more of any report.
    stop = link(store.to(EMAIL)[-1], "stop")
    assert "ok…@example.org" in client.get(stop).get_data(as_text=True)  # the address, masked
    assert client.post(stop).status_code == 200
    assert staff_post(client, code, "status", status="resolved").status_code == 302
    outbox.deliver_due(demo_db, settings)
    assert len(store.to(EMAIL)) == 7
    # Following again from a stopped address sends nothing, and says so.
    again = client.post(f"{page}/follow", data={"action": "follow", "email": EMAIL.upper()})
    assert "не надсилати жодних листів" in again.get_data(as_text=True)
    assert outbox.deliver_due(demo_db, settings) == 0


def test_follow_over_the_api_is_idempotent_and_asks_once(client, demo_db, smtp_server):
    from tests.webmap.test_reports_http import csrf

    settings, store = smtp_server
    code = lamp_report(client, demo_db, email="").get_json()["code"]
    url = f"/api/reports/{quote(code)}/follow"
    headers = {"X-CSRFToken": csrf(client), "Idempotency-Key": "follow-1"}
    first = client.post(url, json={"email": NEIGHBOUR}, headers=headers)
    assert first.status_code == 200 and first.get_json() == {"code": code, "follow": "confirm"}
    assert client.post(url, json={"email": NEIGHBOUR}, headers=headers).get_json() == first.get_json()
    assert client.post(url, json={"email": NEIGHBOUR.upper()}, headers={"X-CSRFToken": csrf(client)}
                       ).get_json()["follow"] == "confirm"
    outbox.deliver_due(demo_db, settings)
    assert len(store.to(NEIGHBOUR)) == 1  # one request to confirm, however often asked
    assert client.post(url, json={"email": None}, headers={"X-CSRFToken": csrf(client)}).status_code == 400


def test_is_it_fixed_is_asked_once_and_still_not_fixed_reopens_the_report(app, client, demo_db, smtp_server):
    import io

    from layers import fixed_check, reports
    from tests.helpers import InEveryHromada, confirm_addresses
    from tests.webmap.test_reports_http import jpeg_with_gps

    settings, store = smtp_server
    admin = reports.Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())
    confirm_addresses(demo_db, EMAIL, NEIGHBOUR)
    code = lamp_report(client, demo_db).get_json()["code"]
    with demo_db.begin() as conn:
        reports.me_too(conn, code, NEIGHBOUR, public_url="http://localhost")
        reports.change_status(conn, code, "resolved", admin, public_url="http://localhost", public_note="Замінено")
        # The category's own time (the catalogue says 28 days unless told otherwise): three days here.
        conn.execute(sa.text("UPDATE category SET ask_fixed_after_days = 3 WHERE code = 'street_light_out'"))

    def ask() -> int:
        with app.app_context(), demo_db.begin() as conn:
            return fixed_check.ask_due(conn, public_url="http://localhost")

    assert ask() == 0  # resolved just now: not yet
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE report SET closed_at = now() - interval '4 days' WHERE code = :c"), {"c": code})
    assert ask() == 1 and ask() == 0  # once
    outbox.deliver_due(demo_db, settings)
    [question] = [m for m in store.to(EMAIL) if "Чи виправлено" in m["subject"]]
    assert question["message"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not [m for m in store.to(NEIGHBOUR) if "Чи виправлено" in m["subject"]]  # the reporter only
    path = urlsplit(re.search(r"https?://\S+/fixed/\S+", question["body"]).group(0)).path

    assert client.get(path).status_code == 200  # the form; opening it answers nothing
    answer = client.post(path, data={"fixed": "no", "comment": "Ліхтар знову не світить",
                                     "photos": [(io.BytesIO(jpeg_with_gps()), "p.jpg")]},
                         content_type="multipart/form-data")
    assert answer.status_code == 200 and "відкрито знову" in answer.get_data(as_text=True)
    assert scalar(demo_db, "SELECT status FROM report WHERE code = :c", c=code) == "reopened"
    kinds = scalar(demo_db, "SELECT array_agg(kind || ':' || coalesce(to_status, '') || ':' || (e.user_id IS NULL) "
                            "ORDER BY e.id) FROM report_event e JOIN report r ON r.id = e.report_id WHERE r.code = :c",
                   c=code)
    assert kinds[-2:] == ["fixed_no::true", "status:reopened:true"]  # the resident's act, no staff user
    assert scalar(demo_db, "SELECT count(*) FROM report_photo p JOIN report r ON r.id = p.report_id "
                           "WHERE r.code = :c", c=code) == 1
    again = client.post(path, data={"fixed": "yes"})
    assert again.status_code == 410  # the link works once
    assert client.get(path).status_code == 410

    outbox.deliver_due(demo_db, settings)
    unit = [m for m in store.messages if "не виправлено" in m["subject"] and "kp-blagoustrij" in m["to"][0]]
    assert len(unit) == 1 and "Ліхтар знову не світить" in unit[0]["body"]
    assert [m["subject"].split(" / ")[0] for m in store.to(NEIGHBOUR)][-1] == f"Звернення {code} відкрито знову"

    # Resolved again: asked again later, with a new link; the old one no longer works.
    with demo_db.begin() as conn:
        reports.change_status(conn, code, "resolved", admin, public_url="http://localhost")
        conn.execute(sa.text("UPDATE report SET closed_at = now() - interval '4 days' WHERE code = :c"), {"c": code})
    assert ask() == 1
    outbox.deliver_due(demo_db, settings)
    second = [m for m in store.to(EMAIL) if "Чи виправлено" in m["subject"]][-1]
    new_path = urlsplit(re.search(r"https?://\S+/fixed/\S+", second["body"]).group(0)).path
    assert new_path != path and client.post(path, data={"fixed": "yes"}).status_code == 400
    assert client.post(new_path, data={"fixed": "maybe"}).status_code == 400
    assert client.post(new_path, data={"fixed": "yes"}).status_code == 200
    assert scalar(demo_db, "SELECT status FROM report WHERE code = :c", c=code) == "resolved"
    assert scalar(demo_db, "SELECT count(*) FROM report_event e JOIN report r ON r.id = e.report_id "
                           "WHERE r.code = :c AND kind = 'fixed_yes'", c=code) == 1
