"""The hromada's Telegram bot (#18), run for real: python-telegram-bot's Application polling a Bot API
on loopback (tests/telegram_fake_api.py), on the demo database.

A resident files a report with a photo in a chat (routed as the web form routes it, the photo's EXIF
gone); Telegram re-delivering the last update, before and after a restart, files nothing twice; the
staff's "resolved" reaches the chat once; the chat id is in nothing public. An English-speaking
resident types an address and picks one of the suggestions; a chat that blocked the bot is given up
on rather than retried for ever. The channel itself: a chat that joined an open report hears of it
only while it is public. And `hromada bot` as a command.
"""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from PIL import Image

from gis.photos import gps_position
from layers import reports, telegram_channel
from tests.helpers import InEveryHromada, asset_point, one, scalar
from tests.telegram_fake_api import FakeBotAPI, buttons, gps_jpeg, user
from tests.webmap.test_reports_http import add_staff, log_in, staff_post
from webmap.telegram_bot import BotSettings, BotThread, HromadaBot

URL = "https://gis.example.org"
CHAT = 5_123_456_789  # beyond 32 bits, as Telegram's ids are
CHAT_EN = 6_987_654_321
CODE = re.compile(r"ЯК-\d{4}-\d{6}")
ADMIN = reports.Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())


@pytest.fixture
def env(monkeypatch):
    # Links in mails and messages are signed with the app's key, and name the public address.
    monkeypatch.setenv("HROMADA_SECRET_KEY", "test-secret")
    monkeypatch.setenv("HROMADA_PUBLIC_URL", URL)


@pytest.fixture
def api(env):
    with FakeBotAPI() as server:
        yield server


@contextmanager
def running_bot(api: FakeBotAPI, engine):
    """The bot as `hromada run` starts it: its own thread and event loop, long polling."""
    settings = BotSettings(token=api.token, api_url=api.url, public_url=URL, poll_timeout=1, delivery_seconds=0.1)
    thread = BotThread(HromadaBot(settings, engine))
    calls = len(api.calls)
    thread.start()
    try:
        while not any(method == "getUpdates" for method, _ in api.calls[calls:]):
            assert thread.is_alive(), "the bot stopped while starting"
            time.sleep(0.02)
        yield thread
    finally:
        thread.stop()
        assert not thread.is_alive()


def count(engine, sql: str, **params) -> int:
    return scalar(engine, sql, **params)


def test_a_resident_reports_with_a_photo_once_and_hears_it_is_resolved(api, demo_db, client):
    resident = user(CHAT, "uk")
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with running_bot(api, demo_db):
        start = api.text(resident, "/start")
        welcome = api.wait_for(CHAT, "Вітаємо")
        assert api.markups[(CHAT, welcome["message_id"])]["keyboard"][0][0]["request_location"] is True
        commands = [params for method, params in api.calls if method == "setMyCommands"]
        assert {c.get("language_code") for c in commands} == {None, "en"}
        assert [c["command"] for c in commands[0]["commands"]] == ["new", "my", "lang", "cancel"]

        # A place outside the hromada is said to be so; the step stays.
        api.location(resident, 30.5234, 50.4501)
        api.wait_for(CHAT, "поза громадою")
        api.location(resident, lon + 0.0001, lat)
        api.wait_for(CHAT, "Місце: ")
        categories = api.wait_for(CHAT, "Оберіть категорію")
        assert ("Не світить ліхтар", "cat:street_light_out") in buttons(categories)
        api.press(resident, categories, "cat:street_light_out")
        assert api.wait_for(CHAT, "Опишіть проблему")
        assert categories["text"] == "Категорія: Не світить ліхтар" and not buttons(categories)  # edited

        # Too long a description: the web form's message, and the step stays.
        seen = len(api.sent_to(CHAT))
        api.text(resident, "д" * 2001)
        api.wait_for(CHAT, "Опис задовгий: 2001 знаків", after=seen)
        api.text(resident, "Не світить ліхтар біля зупинки")
        ask = api.wait_for(CHAT, "Додайте фото")
        started_by = start["message"]["message_id"]
        assert buttons(ask) == [("✅ Надіслати без фото", f"send:{started_by}"), ("Скасувати", "cancel")]
        assert "«Не світить ліхтар біля зупинки»" in ask["text"]

        api.photo(resident, gps_jpeg(lat, lon), "photo-1")
        added = api.wait_for(CHAT, "Фото додано (1 з 3)")
        assert buttons(added)[0] == ("✅ Надіслати", f"send:{started_by}")
        send = api.press(resident, added, f"send:{started_by}")
        filed = api.wait_for(CHAT, "Код для відстеження")
        code = CODE.search(filed["text"]).group(0)
        assert "Ним займається: КП «Якушинціблагоустрій»" in filed["text"]
        assert f"Сторінка звернення: {URL}/reports/{code}\n" in filed["text"]
        token = re.search(rf"{re.escape(URL)}/reports/{code}\?token=(\S+)", filed["text"]).group(1)
        assert reports.token_matches(one(demo_db, "SELECT private_token_hash FROM report WHERE code = :c", c=code)
                                     ._mapping, token)

        # Routed as the web form routes it; the photo kept without EXIF; the chat as its contact channel.
        stored = one(demo_db, """SELECT r.id, u.code AS unit, r.routing_rule, r.description, p.data, p.thumb
                                 FROM report r JOIN unit u ON u.id = r.unit_id
                                 JOIN report_photo p ON p.report_id = r.id WHERE r.code = :c""", c=code)
        assert (stored.unit, stored.routing_rule) == ("kp_blagoustrij", "asset")
        assert stored.description == "Не світить ліхтар біля зупинки"
        for data in (stored.data, stored.thumb):
            image = Image.open(io.BytesIO(data))
            assert image.format == "JPEG" and not image.getexif() and gps_position(image) is None
            assert b"Test phone" not in data and b"Exif" not in data
        assert one(demo_db, "SELECT chat_id, language, is_reporter FROM report_chat WHERE report_id = :r",
                   r=stored.id)._tuple() == (CHAT, "uk", True)

        # Telegram delivers the "send" again (the bot's confirmation was lost): the same report, told again.
        seen = len(api.sent_to(CHAT))
        api.deliver(send)
        assert code in api.wait_for(CHAT, "вже подано", after=seen)["text"]
        assert count(demo_db, "SELECT count(*) FROM report") == 1

    # After a restart the conversation is gone, what was filed is not.
    with running_bot(api, demo_db):
        seen = len(api.sent_to(CHAT))
        api.deliver(send)
        assert code in api.wait_for(CHAT, "вже подано", after=seen)["text"]
        assert count(demo_db, "SELECT count(*) FROM report") == 1
        assert count(demo_db, "SELECT count(*) FROM idempotency_key WHERE scope = 'telegram-report'") == 1

        # The unit's staff resolve it on the staff pages: the chat is told, once.
        add_staff(demo_db, "kp@example.org", "kp_blagoustrij")
        log_in(client, "kp@example.org")
        assert staff_post(client, code, "status", status="resolved", public_note="Лампу замінено").status_code == 302
        told = api.wait_for(CHAT, "вирішено", after=seen)
        assert f"Стан звернення {code}: вирішено." in told["text"] and "Коментар: Лампу замінено" in told["text"]
        assert f"/reports/{code}" in told["text"]
        event_id = scalar(demo_db, "SELECT max(id) FROM report_event WHERE report_id = :r AND kind = 'status'",
                          r=stored.id)
        with demo_db.begin() as conn:  # the change retried: nothing queued again
            assert telegram_channel.tell_chats(conn, stored.id, f"event-{event_id}", ["…"], ["…"]) == 0
        time.sleep(0.5)  # several rounds of delivery
        assert sum("вирішено" in m["text"] for m in api.sent_to(CHAT)) == 1
        assert one(demo_db, "SELECT status, attempts FROM telegram_outbox")._tuple() == ("sent", 1)

        # "My reports", in Ukrainian, then in English after /lang (the chat's reports follow it).
        seen = len(api.sent_to(CHAT))
        api.text(resident, "/my")
        mine = api.wait_for(CHAT, "Ваші звернення", after=seen)
        assert f"{code} — Не світить ліхтар: вирішено" in mine["text"]
        api.text(resident, "/lang")
        choose = api.wait_for(CHAT, "Оберіть мову", after=seen)
        assert buttons(choose) == [("Українська", "lang:uk"), ("English", "lang:en")]
        api.press(resident, choose, "lang:en")
        api.wait_for(CHAT, "Language changed: English", after=seen)
        api.text(resident, "/my")
        assert f"{code} — Street light not working: resolved" in api.wait_for(CHAT, "Your reports", after=seen)["text"]
        assert scalar(demo_db, "SELECT language FROM report_chat") == "en"

    # The chat is the reporter's contact channel: in nothing public.
    for path in (f"/api/reports/{quote(code)}", f"/reports/{quote(code)}", "/api/layers/reports/items?limit=1000",
                 f"/open311/v2/requests/{quote(code)}.json"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert str(CHAT) not in answer.get_data(as_text=True), path
    assert not [method for method, _ in api.calls if method not in {
        "getMe", "deleteWebhook", "setMyCommands", "getUpdates", "sendMessage", "answerCallbackQuery",
        "editMessageText", "editMessageReplyMarkup", "getFile"}]


def test_an_english_speaker_types_an_address_and_a_blocked_chat_is_given_up(api, demo_db):
    resident = user(CHAT_EN, "en-GB", "Olena")
    with running_bot(api, demo_db):
        api.text(resident, "д" * 201)
        api.wait_for(CHAT_EN, "The address is too long")
        api.text(resident, "Nowhere Street 99")
        assert "Try again" in api.wait_for(CHAT_EN, "not found")["text"]
        api.text(resident, "вул. Садова")  # a street in several villages: which one?
        offered = api.wait_for(CHAT_EN, "Choose the place")
        assert "several villages" in offered["text"] and len(buttons(offered)) >= 2
        label, data = buttons(offered)[0]
        api.press(resident, offered, data)
        api.wait_for(CHAT_EN, f"Place: {label}")
        categories = api.wait_for(CHAT_EN, "Choose a category")
        assert ("Overflowing bin", "cat:overflowing_bin") in buttons(categories)
        seen = len(api.sent_to(CHAT_EN))
        api.text(resident, "the bin by the shop")  # before a category is chosen
        api.wait_for(CHAT_EN, "Choose a category with the buttons above", after=seen)
        api.press(resident, categories, "cat:overflowing_bin")
        api.wait_for(CHAT_EN, "Describe the problem")
        api.text(resident, "The bin by the shop is full")
        ask = api.wait_for(CHAT_EN, "Add a photo")
        api.press(resident, ask, buttons(ask)[0][1])
        filed = api.wait_for(CHAT_EN, "Tracking code")
        code = CODE.search(filed["text"]).group(0)
        assert count(demo_db, "SELECT count(*) FROM report_photo") == 0
        assert scalar(demo_db, "SELECT language FROM report_chat WHERE chat_id = :c", c=CHAT_EN) == "en"

        # A button of the finished conversation, pressed again: nothing happens to the report.
        seen = len(api.sent_to(CHAT_EN))
        api.press(resident, categories, "cat:pothole")
        api.wait_for(CHAT_EN, "This conversation has ended", after=seen)

        # The resident blocked the bot: the news of a change is given up on, not retried for ever.
        api.blocked.add(CHAT_EN)
        with demo_db.begin() as conn:
            reports.change_status(conn, code, "acknowledged", ADMIN, public_url=URL)
        deadline = time.monotonic() + 10
        while scalar(demo_db, "SELECT status FROM telegram_outbox") != "failed":
            assert time.monotonic() < deadline, "the message was not given up"
            time.sleep(0.05)
        row = one(demo_db, "SELECT text, attempts, last_error FROM telegram_outbox")
        assert row.attempts == 1 and "blocked" in row.last_error
        assert row.text.startswith(f"The status of report {code} is now: acknowledged.")


def test_a_chat_that_joined_a_report_hears_of_it_only_while_it_is_public(env, demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "302")

    def draft(started_by: int, lang: str) -> telegram_channel.Draft:
        d = telegram_channel.Draft(started_by=started_by, lang=lang, lon=lon, lat=lat)
        d.offered = [{"code": "street_light_out", "uk": "", "en": ""}]
        d.choose_category("street_light_out")
        d.describe("Не світить")
        return d

    first = telegram_channel.file_report(demo_db, CHAT, draft(1, "uk"), public_url=URL)
    again = telegram_channel.file_report(demo_db, CHAT, draft(1, "uk"), public_url=URL)
    assert not first.repeated and again.repeated and again.answer["code"] == first.answer["code"]
    joined = telegram_channel.file_report(demo_db, CHAT_EN, draft(7, "en"), public_url=URL)
    assert joined.answer["joined_existing"] and joined.answer["code"] == first.answer["code"]
    assert count(demo_db, "SELECT count(*) FROM report") == 1
    report_id = first.answer["id"]
    assert sorted(one(demo_db, "SELECT array_agg(is_reporter ORDER BY is_reporter) FROM report_chat")[0]) == [
        False, True]

    with demo_db.begin() as conn:
        assert telegram_channel.tell_chats(conn, report_id, "event-a", ["uk"], ["en"]) == 2
        conn.execute(reports.report.update().where(reports.report.c.id == report_id).values(hidden_reason="обличчя"))
        assert telegram_channel.tell_chats(conn, report_id, "event-b", ["uk"], ["en"]) == 1  # its reporter only
    with demo_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, chat_id, text FROM telegram_outbox ORDER BY id")).all()
    assert [(r.chat_id, r.text) for r in rows] == [(CHAT, "uk"), (CHAT_EN, "en"), (CHAT, "uk")]
    assert rows[0].key == f"report-{report_id}-event-a-chat-{CHAT}"


def test_hromada_bot_serves_until_stopped_and_says_what_is_wrong(api, demo_db, database_url):
    """`hromada bot` as an operator runs it: one clear message for a token Telegram refuses; served
    until SIGTERM, then a clean stop."""
    env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_API_URL": api.url,
           "TELEGRAM_BOT_TOKEN": "999:not-this-bot"}
    command = [sys.executable, "-m", "webmap.cli", "bot"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stderr
    assert "Error: Telegram refused TELEGRAM_BOT_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    assert "not-this-bot" not in refused.stderr  # a token is a secret: in no message, no log

    env["TELEGRAM_BOT_TOKEN"] = api.token
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        api.text(user(CHAT, "en"), "/start")
        api.wait_for(CHAT, "This is the bot of", timeout=60)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "serves Якушинецька" in stderr and api.token.split(":")[1] not in stderr
