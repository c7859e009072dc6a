"""Alerts for an area, Atom feeds and announcements (issue #18; layers.area_alerts, layers.announcements,
webmap/alerts.py), with mail delivered to a real SMTP server on loopback: double opt-in, one mail per
report per subscription however often retried, RFC 8058 one-click unsubscribe, the daily digest, feeds a
feed reader accepts, emergency notices to every subscriber of the area, and refusals that store nothing."""
from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import sqlalchemy as sa

from gis import outbox
from gis.config import DEMO_KATOTTG
from gis.users import create_user
from layers import announcements, area_alerts, moderation
from layers.report_states import Actor
from tests.helpers import (
    STRYZHAVKA,
    InEveryHromada,
    confirm_addresses,
    demo_hromada_id,
    inside,
    load_neighbours,
    scalar,
)
from tests.webmap.test_reports_http import EMAIL, NAME, PHONE, add_staff, csrf, form_token, log_in, submit

KYIV = ZoneInfo("Europe/Kyiv")
ANNA, BOHDAN, CHRYSTIA, DMYTRO, EVA = (f"{n}@example.org" for n in ("anna", "bohdan", "chrystia", "dmytro", "eva"))


def settlement_id(engine, name: str) -> int:
    return scalar(engine, "SELECT id FROM settlement WHERE name_uk = :n", n=name)


def box(lon: float, lat: float, half: float = 0.002) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def report_in(client, engine, village: str, category: str = "overflowing_bin", description: str = "Переповнений бак",
              **extra):
    lon, lat = inside(engine, village)
    answer = submit(client, lat=lat, lon=lon, category=category, description=description, name=NAME, email=EMAIL,
                    phone=PHONE, **extra)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def link(mail: dict, path: str) -> str:
    """The path of the first link under ``path`` (e.g. /alerts/confirm/) in a mail's text."""
    return urlsplit(re.search(rf"https?://\S+{re.escape(path)}\S+", mail["body"]).group(0)).path


def subscribe_api(client, **body):
    return client.post("/api/alerts", json={"hromada": DEMO_KATOTTG, **body}, headers={"X-CSRFToken": csrf(client)})


def alerts_to(store, address: str) -> list[dict]:
    """What came to ``address`` besides requests to confirm it."""
    return [m for m in store.to(address) if "Confirm your address" not in m["subject"]]


def no_personal_data(text: str) -> None:
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in text


def test_a_confirmed_subscriber_gets_one_mail_per_report_in_the_area_and_can_stop_it(app, client, demo_db,
                                                                                        smtp_server):
    settings, store = smtp_server
    app.config["REPORT_RATE_LIMIT"] = "1000 per minute"
    berezyna = settlement_id(demo_db, "Березина")

    # Anna subscribes to a village with the plain form (no JavaScript) and confirms her address.
    page = client.get(f"/alerts?hromada={DEMO_KATOTTG}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'for="alr-email"' in html and f'value="settlement:{berezyna}"' in html
    answer = client.post(f"/alerts?hromada={DEMO_KATOTTG}",
                         data={"email": ANNA, "place": f"settlement:{berezyna}", "frequency": "immediate"})
    assert answer.status_code == 200 and "Перевірте пошту" in answer.get_data(as_text=True)
    outbox.deliver_due(demo_db, settings)
    [request] = store.to(ANNA)
    confirm = link(request, "/alerts/confirm/")
    assert "<form" in client.get(confirm).get_data(as_text=True)  # opening the link changes nothing
    assert scalar(demo_db, "SELECT confirmed_at FROM mail_address WHERE email = :e", e=ANNA) is None
    assert client.post(confirm).status_code == 200
    assert scalar(demo_db, "SELECT confirmed_at FROM mail_address WHERE email = :e", e=ANNA) is not None

    # Bohdan (confirmed) follows an area drawn around a point in Якушинці, over the JSON API.
    confirm_addresses(demo_db, BOHDAN)
    lon, lat = inside(demo_db, "Якушинці")
    drawn = subscribe_api(client, email=BOHDAN, area=box(lon, lat))
    assert drawn.status_code == 200 and drawn.get_json()["state"] == "subscribed", drawn.get_data(as_text=True)

    in_berezyna = report_in(client, demo_db, "Березина", description="Бак переповнений біля клубу")
    in_yakushyntsi = report_in(client, demo_db, "Якушинці", description="Бак у центрі")
    outbox.deliver_due(demo_db, settings)
    [alert] = alerts_to(store, ANNA)
    assert in_berezyna["code"] in alert["subject"] and "Березина" in alert["subject"]
    assert in_yakushyntsi["code"] not in alert["body"]
    assert "Бак переповнений біля клубу" in alert["body"]
    no_personal_data(alert["body"] + alert["subject"])
    assert alert["message"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https?://\S+/alerts/unsubscribe/\S+>", alert["message"]["List-Unsubscribe"])
    assert "/mail/stop/" in alert["body"]
    [bohdans] = alerts_to(store, BOHDAN)
    assert in_yakushyntsi["code"] in bohdans["subject"] and in_berezyna["code"] not in bohdans["body"]

    # Retried: the hook again (as a retried transaction would), the same report sent again with its key.
    report_id = scalar(demo_db, "SELECT id FROM report WHERE code = :c", c=in_berezyna["code"])
    with app.app_context(), demo_db.begin() as conn:
        assert area_alerts.alert_report(conn, report_id) == 0
    key = {"Idempotency-Key": "alert-retry-1"}
    lon_b, lat_b = inside(demo_db, "Березина")
    fields = dict(lat=lat_b, lon=lon_b, category="illegal_dump", description="Сміттєзвалище", headers=key)
    first, again = submit(client, **fields), submit(client, **fields)
    assert first.get_json()["code"] == again.get_json()["code"]
    outbox.deliver_due(demo_db, settings)
    assert len(alerts_to(store, ANNA)) == 2 and len(alerts_to(store, BOHDAN)) == 1
    assert scalar(demo_db, "SELECT count(*) FROM area_alert") == 3

    # Anna's mail client unsubscribes in one click (RFC 8058: a POST, no cookie, no CSRF token).
    one_click = urlsplit(alert["message"]["List-Unsubscribe"][1:-1]).path
    mail_client = app.test_client()
    assert mail_client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert mail_client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 204  # again: the same
    report_in(client, demo_db, "Березина", description="Ще один бак")
    outbox.deliver_due(demo_db, settings)
    assert len(alerts_to(store, ANNA)) == 2  # nothing more
    feed = urlsplit(re.search(r"https?://\S+/feeds/areas/\S+\.atom", alert["body"]).group(0)).path
    assert client.get(feed).status_code == 410  # the subscription's feed ended with it
    assert client.post("/alerts/unsubscribe/forged-token").status_code == 400

    # The cabinet's plain functions see the same subscriptions.
    with demo_db.begin() as conn:
        assert [s["place"]["uk"] for s in area_alerts.list_for_email(conn, BOHDAN)] == ["Ділянка на мапі"]
        assert area_alerts.list_for_email(conn, ANNA) == []
        assert area_alerts.set_frequency(conn, BOHDAN, "daily") == 1


def test_the_atom_feeds_parse_and_carry_public_reports_only(app, client, demo_db):
    app.config["REPORT_RATE_LIMIT"] = "1000 per minute"
    berezyna = report_in(client, demo_db, "Березина", description="Бак <b>переповнений</b> & смердить")
    yakushyntsi = report_in(client, demo_db, "Якушинці", description="Бак у центрі")

    answer = client.get(f"/feeds/{DEMO_KATOTTG}.atom")
    assert answer.status_code == 200 and answer.mimetype == "application/atom+xml"
    feed = feedparser.parse(answer.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title.startswith("Звернення й оголошення") and feed.feed.language == "uk"
    by_code = {unquote(e.link).rsplit("/", 1)[-1]: e for e in feed.entries}
    assert {berezyna["code"], yakushyntsi["code"]} <= set(by_code)
    entry = by_code[berezyna["code"]]
    category = scalar(demo_db, "SELECT name_uk FROM category WHERE code = 'overflowing_bin'")
    assert entry.title == f"{category} — Березина"
    assert "Бак &lt;b&gt;переповнений&lt;/b&gt; &amp; смердить" in entry.content[0].value  # escaped, not markup
    assert entry.updated_parsed and "georss:point" in answer.get_data(as_text=True)
    no_personal_data(answer.get_data(as_text=True))

    # Conditional GET: the same feed again is a 304.
    assert client.get(f"/feeds/{DEMO_KATOTTG}.atom", headers={"If-None-Match": answer.headers["ETag"]}
                      ).status_code == 304
    english = feedparser.parse(client.get(f"/feeds/{DEMO_KATOTTG}.atom?lang=en").data)
    assert english.bozo == 0 and english.feed.title.startswith("Reports and announcements")

    # A village's feed: only what lies in it.
    village = client.get(f"/feeds/{DEMO_KATOTTG}/villages/{settlement_id(demo_db, 'Березина')}.atom")
    parsed = feedparser.parse(village.data)
    assert parsed.bozo == 0 and len(parsed.entries) == 1 and "Березина" in parsed.entries[0].title
    assert client.get(f"/feeds/{DEMO_KATOTTG}/villages/999999.atom").status_code == 404

    # A report that is not public is in no feed.
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE report SET hidden_reason = 'фото обличчя' WHERE code = :c"),
                     {"c": yakushyntsi["code"]})
    again = feedparser.parse(client.get(f"/feeds/{DEMO_KATOTTG}.atom").data)
    assert len(again.entries) == 1

    # The map page names its feed for readers that look for one.
    html = client.get(f"/map/{DEMO_KATOTTG}").get_data(as_text=True)
    assert 'type="application/atom+xml"' in html and f"/feeds/{DEMO_KATOTTG}.atom" in html


def publish_form(client, **fields) -> dict:
    now = dt.datetime.now(KYIV).replace(second=0, microsecond=0)
    page = client.get(f"/staff/announcements?hromada={DEMO_KATOTTG}")
    data = {"kind": "emergency", "place": "hromada", "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"), "title_uk": "Пориви вітру",
            "body_uk": "Не паркуйтеся під деревами.", "csrf_token": form_token(page.get_data(as_text=True))}
    data.update(fields)
    return data


def test_an_emergency_reaches_every_subscriber_of_the_area_once(app, client, demo_db, smtp_server):
    settings, store = smtp_server
    berezyna = settlement_id(demo_db, "Березина")
    district = scalar(demo_db, "SELECT id FROM starosta_district WHERE code = 'berezyna'")
    confirm_addresses(demo_db, ANNA, BOHDAN, CHRYSTIA, DMYTRO)
    assert subscribe_api(client, email=ANNA, settlement=berezyna, categories=["pothole"]).status_code == 200
    assert subscribe_api(client, email=BOHDAN, district="berezyna", frequency="daily").status_code == 200
    assert subscribe_api(client, email=CHRYSTIA, area=box(*inside(demo_db, "Пултівці"), half=0.001)
                         ).status_code == 200
    assert subscribe_api(client, email=DMYTRO, district=district).get_json()["place"]["uk"].startswith("Березинськ")
    subscribe_api(client, email=EVA, settlement=berezyna)  # never confirms

    add_staff(demo_db, "head@example.org", roles=("admin",))
    log_in(client, "head@example.org")
    sent = client.post(f"/staff/announcements?hromada={DEMO_KATOTTG}",
                       data=publish_form(client, place=f"settlement:{berezyna}", title_en="Wind gusts"))
    assert sent.status_code == 303, sent.get_data(as_text=True)
    outbox.deliver_due(demo_db, settings)
    for address in (ANNA, BOHDAN, DMYTRO):  # Anna's categories do not matter; Bohdan's digest does not wait
        [mail] = alerts_to(store, address)
        assert "Надзвичайна ситуація: Пориви вітру" in mail["subject"] and "Emergency: Wind gusts" in mail["subject"]
        assert "Не паркуйтеся під деревами." in mail["body"] and mail["message"]["List-Unsubscribe"]
    assert alerts_to(store, CHRYSTIA) == [] and alerts_to(store, EVA) == []

    # Retried: nobody is told twice.
    announcement_id = scalar(demo_db, "SELECT id FROM announcement")
    with app.app_context(), demo_db.begin() as conn:
        assert announcements.tell_subscribers(conn, announcement_id) == 0
    assert outbox.deliver_due(demo_db, settings) == 0

    # On the staff page, over the map, as GeoJSON and in the feeds.
    staff_page = client.get(f"/staff/announcements?hromada={DEMO_KATOTTG}&published=3").get_data(as_text=True)
    assert "Пориви вітру" in staff_page and "надіслано підписникам: 3" in staff_page
    visitor = app.test_client()
    assert "Пориви вітру" in visitor.get(f"/map/{DEMO_KATOTTG}").get_data(as_text=True)
    shapes = visitor.get(f"/api/hromadas/{DEMO_KATOTTG}/announcements?lang=en").get_json()
    assert [f["properties"]["title"] for f in shapes["features"]] == ["Wind gusts"]
    village_feed = feedparser.parse(visitor.get(f"/feeds/{DEMO_KATOTTG}/villages/{berezyna}.atom").data)
    assert village_feed.bozo == 0 and village_feed.entries[0].title == "Надзвичайна ситуація: Пориви вітру"
    elsewhere = feedparser.parse(visitor.get(
        f"/feeds/{DEMO_KATOTTG}/villages/{settlement_id(demo_db, 'Пултівці')}.atom").data)
    assert elsewhere.entries == []

    # Ended early: off the map.
    page = client.get(f"/staff/announcements?hromada={DEMO_KATOTTG}").get_data(as_text=True)
    ended = client.post(f"/staff/announcements/end?hromada={DEMO_KATOTTG}",
                        data={"id": announcement_id, "csrf_token": form_token(page)})
    assert ended.status_code == 303
    assert "Пориви вітру" not in visitor.get(f"/map/{DEMO_KATOTTG}").get_data(as_text=True)


def test_staff_of_another_hromada_cannot_publish_here(app, client, demo_db):
    load_neighbours(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with demo_db.begin() as conn:
        create_user(conn, "head@stryzhavka.example.org", "correct horse battery", ["admin"], hromada_id=stryzhavka)
    log_in(client, "head@stryzhavka.example.org")
    own = client.get(f"/staff/announcements?hromada={STRYZHAVKA}")
    assert own.status_code == 200
    data = {"kind": "emergency", "place": "hromada", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T12:00",
            "title_uk": "Чуже", "body_uk": "Чуже", "csrf_token": form_token(own.get_data(as_text=True))}
    assert client.get(f"/staff/announcements?hromada={DEMO_KATOTTG}").status_code == 403
    assert client.post(f"/staff/announcements?hromada={DEMO_KATOTTG}", data=data).status_code == 403
    assert scalar(demo_db, "SELECT count(*) FROM announcement") == 0
    # Their own hromada: fine; and a bad announcement is a 400 that keeps what was typed.
    assert client.post(f"/staff/announcements?hromada={STRYZHAVKA}", data=data).status_code == 303
    bad = client.post(f"/staff/announcements?hromada={STRYZHAVKA}", data={**data, "ends_at": "2029-01-01T10:00"})
    assert bad.status_code == 400 and "Кінець має бути пізніше за початок" in bad.get_data(as_text=True)
    assert scalar(demo_db, "SELECT count(*) FROM announcement") == 1


def test_the_daily_digest_gathers_the_days_reports_into_one_mail(app, client, demo_db, smtp_server):
    settings, store = smtp_server
    app.config["REPORT_RATE_LIMIT"] = "1000 per minute"
    confirm_addresses(demo_db, ANNA)
    answer = client.post("/alerts", data={"hromada": DEMO_KATOTTG, "email": ANNA.upper(), "place": "hromada",
                                          "frequency": "daily", "categories": ["overflowing_bin", "illegal_dump"]})
    assert answer.status_code == 200 and "Готово" in answer.get_data(as_text=True)
    first = report_in(client, demo_db, "Якушинці", description="Перший бак")
    second = report_in(client, demo_db, "Березина", category="illegal_dump", description="Друге звалище")
    report_in(client, demo_db, "Березина", category="fallen_tree", description="Не та категорія")
    outbox.deliver_due(demo_db, settings)
    assert alerts_to(store, ANNA) == []  # nothing at once

    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    with app.app_context(), demo_db.begin() as conn:
        assert area_alerts.queue_digests(conn, tomorrow) == 1
    with app.app_context(), demo_db.begin() as conn:
        assert area_alerts.queue_digests(conn, tomorrow) == 0  # run again (the worker does, every minute)
    outbox.deliver_due(demo_db, settings)
    [digest] = alerts_to(store, ANNA)
    assert first["code"] in digest["body"] and second["code"] in digest["body"] and ": 2" in digest["subject"]
    assert "Не та категорія" not in digest["body"]
    no_personal_data(digest["body"])
    assert digest["message"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_report_held_for_approval_is_alerted_when_approved(app, client, demo_db, smtp_server):
    settings, store = smtp_server
    confirm_addresses(demo_db, ANNA)
    assert subscribe_api(client, email=ANNA, whole_hromada=True).get_json()["state"] == "subscribed"
    with demo_db.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO hromada_category (hromada_id, category_id, premoderate)
            SELECT :h, id, true FROM category WHERE code = 'overflowing_bin'"""), {"h": demo_hromada_id(demo_db)})
    held = report_in(client, demo_db, "Якушинці")
    outbox.deliver_due(demo_db, settings)
    assert alerts_to(store, ANNA) == []
    admin = Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())
    with app.app_context(), demo_db.begin() as conn:
        moderation.approve(conn, held["code"], admin)
    outbox.deliver_due(demo_db, settings)
    [alert] = alerts_to(store, ANNA)
    assert held["code"] in alert["subject"]


def test_bad_input_is_a_400_in_both_languages_and_stores_nothing(client, demo_db, smtp_server):
    settings, store = smtp_server
    kyiv_area = box(30.52, 50.45, 0.01)
    cases = [
        ({"email": ANNA, "area": kyiv_area}, "поза межами громади", "outside the hromada"),
        ({"email": ANNA, "area": "{not json"}, "GeoJSON", "GeoJSON"),
        ({"email": ANNA, "area": {"type": "Point", "coordinates": [28.4, 49.2]}}, "GeoJSON", "GeoJSON"),
        ({"email": "not-an-address", "whole_hromada": True}, "не адреса", "not an e-mail address"),
        ({"email": ANNA}, "Оберіть місце", "Choose a place"),
        ({"email": ANNA, "whole_hromada": True, "settlement": 1}, "одне місце", "one place"),
        ({"email": ANNA, "whole_hromada": True, "categories": ["no_such_thing"]}, "Невідомі категорії",
         "Unknown categories"),
        ({"email": ANNA, "whole_hromada": True, "frequency": "hourly"}, "Частота", "Frequency"),
        ({"email": ANNA, "settlement": 99999999}, "немає такого населеного пункту", "No such village"),
    ]
    for body, uk, en in cases:
        answer = subscribe_api(client, **body)
        assert answer.status_code == 400, (body, answer.get_data(as_text=True))
        message = answer.get_json()["message"]
        assert uk in message["uk"] and en in message["en"], (body, message)
    form = client.post("/alerts", data={"hromada": DEMO_KATOTTG, "email": ANNA, "place": "area",
                                        "area": json.dumps(kyiv_area)})
    assert form.status_code == 400 and "поза межами громади" in form.get_data(as_text=True)
    assert ANNA in form.get_data(as_text=True)  # what was typed is kept
    english = client.post("/alerts?lang=en", data={"hromada": DEMO_KATOTTG, "email": "nope", "place": "hromada"})
    assert english.status_code == 400 and "not an e-mail address" in english.get_data(as_text=True)
    assert subscribe_api(client, email=ANNA, whole_hromada=True, hromada="UA99999999999999999").status_code == 404
    assert scalar(demo_db, "SELECT count(*) FROM area_subscription") == 0
    assert scalar(demo_db, "SELECT count(*) FROM mail_address") == 0
    assert outbox.deliver_due(demo_db, settings) == 0 and store.messages == []


def test_every_alerts_route_that_writes_is_role_marked_or_public_and_answers_4xx(app, client, demo_db):
    """As tests/webmap/test_hromada_roles.py walks the whole route table: this blueprint's writes are the
    administrators' (marked) or residents' own acts (listed there), and empty forms are a 4xx, never a 500."""
    from tests.webmap.test_hromada_roles import PUBLIC_OR_SELF_CHECKED, _marks

    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("alerts.")]
    for rule in rules:
        if set(rule.methods) - {"GET", "HEAD", "OPTIONS"} or rule.rule.startswith("/staff"):
            assert rule.endpoint in PUBLIC_OR_SELF_CHECKED or "hromada_roles" in _marks(
                app.view_functions[rule.endpoint]), rule.endpoint
    add_staff(demo_db, "head@example.org", roles=("admin",))
    log_in(client, "head@example.org")
    app.config["WTF_CSRF_ENABLED"] = False  # the answers to empty forms are what is tested
    for url in ("/staff/announcements", "/staff/announcements/end", "/alerts", "/api/alerts"):
        answer = client.post(f"{url}?hromada={DEMO_KATOTTG}", data={})
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
    for url in (f"/alerts?hromada={DEMO_KATOTTG}", f"/map/{DEMO_KATOTTG}/alerts?lang=en", "/alerts?hromada=UA1",
                f"/feeds/{DEMO_KATOTTG}/villages/x.atom", "/feeds/areas/nope.atom", "/alerts/confirm/x",
                "/feeds/UA99999999999999999.atom", f"/api/hromadas/{DEMO_KATOTTG}/announcements"):
        assert client.get(url).status_code < 500, url


def test_alerts_whose_mail_fails_wait_for_the_digest(app, client, demo_db, monkeypatch):
    """A fault while writing the at-once mails keeps the report and leaves its alerts untold, so the
    next daily digest carries them."""
    confirm_addresses(demo_db, BOHDAN)
    lon, lat = inside(demo_db, "Якушинці")
    assert subscribe_api(client, email=BOHDAN, area=box(lon, lat)).get_json()["state"] == "subscribed"

    def broken(*_args):
        raise RuntimeError("a template went wrong")

    monkeypatch.setattr(area_alerts, "_mail_at_once", broken)
    made = report_in(client, demo_db, "Якушинці", description="Бак у центрі")
    report_id = scalar(demo_db, "SELECT id FROM report WHERE code = :c", c=made["code"])
    assert scalar(demo_db, "SELECT count(*) FROM area_alert WHERE report_id = :r AND digested_at IS NULL",
                  r=report_id) == 1
    assert scalar(demo_db, "SELECT count(*) FROM outbox WHERE report_id = :r AND subject LIKE '%' || :c || '%' "
                           "AND to_addr = :e", r=report_id, c=made["code"], e=BOHDAN) == 0
