"""Telegram as a way in and a way back for residents' reports (#18) — the domain part, with no Telegram
library in it (the bot itself is webmap/telegram_bot.py).

- **In**: a conversation gathers a :class:`Draft` (place, category, description, photos) and
  :func:`file_report` files it exactly as the web form does — a ``layers.reports.NewReport`` through
  ``create_report`` (validation, routing, the unit's mail, "me too" on a lamp already reported), its
  photos through ``gis.photos`` (EXIF stripped) — once per conversation: the idempotency key is the chat
  and the message that began the conversation, claimed in ``idempotency_key`` in the same transaction,
  so an update Telegram delivers again (or a second tap on "send", or one after a restart) gets the
  first answer back instead of a second report.
- **The chat is a contact channel** of the report (``report_chat``), like the reporter's e-mail: it is
  staff-side data, never in a public page, API, export or feed; nothing here is read by them.
- **Back**: a public status change (``layers.reports._notify_status``, as followers are told) writes one
  message per chat into ``telegram_outbox`` in the transaction of the change, keyed so that a retried
  change never queues twice; the bot delivers it (:func:`claim_one`, then :func:`record_sent` or
  :func:`record_failure`) with retries and back-off, claimed with ``FOR UPDATE SKIP LOCKED`` as the
  mail outbox is (gis.outbox). A report that is not public (hidden, awaiting approval) is news for its
  reporter's chat only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis import idempotency_keys, outbox, routing
from gis.errors import InvalidInput, NotFound, Unprocessable
from gis.models import report_chat
from gis.photos import MAX_PHOTOS, Photo, process_photo

# ``layers.reports`` imports this module (its status hook): the module, not its names, so that either
# may be imported first.
from layers import places, reports

log = logging.getLogger(__name__)

SCOPE = "telegram-report"  # idempotency_key.scope of reports filed in a chat
MAX_MESSAGE = 4096  # Telegram's longest text message
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS
LEASE = outbox.LEASE


# --- the hromada the bot serves, and what may be reported where -------------------------------------------

@dataclass(frozen=True)
class Hromada:
    id: int
    katottg: str
    name_uk: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_uk if lang == "uk" else self.name_en


def served_hromada(conn: sa.Connection, katottg: str) -> Hromada:
    """The hromada a bot serves, by KATOTTG; NotFound (with what to do) when it is not loaded."""
    row = conn.execute(sa.text("SELECT id, katottg, name_uk, coalesce(name_en, name_uk) AS name_en FROM hromada "
                               "WHERE katottg = :k"), {"k": katottg}).first()
    if row is None:
        raise NotFound(f"Громади {katottg} у базі немає: завантажте її або вкажіть іншу в TELEGRAM_HROMADA",
                       f"Hromada {katottg} is not in the database: load it or name another in TELEGRAM_HROMADA")
    return Hromada(row.id, row.katottg, row.name_uk, row.name_en)


class OutsideHromada(Unprocessable):
    """A place outside the hromada the bot serves."""


def categories_here(conn: sa.Connection, hromada: Hromada, lon, lat) -> list[dict]:
    """The categories a report at the point would be accepted in — the web form's list
    (gis.routing.categories_at), each ``{code, uk, en}``. OutsideHromada for a point outside the
    bot's hromada; Unprocessable when no one takes reports there (yet)."""
    lon, lat = routing.check_point(lon, lat)
    found = routing.hromada_at(conn, lon, lat)
    if found is None or found.id != hromada.id:
        raise OutsideHromada(
            f"Це місце поза громадою «{hromada.name_uk}»: цей бот приймає звернення лише з неї",
            f"This place is outside {hromada.name_en}: this bot takes reports from there only")
    _, rows = routing.categories_at(conn, lon, lat)
    if not rows:
        raise Unprocessable(f"Громада «{hromada.name_uk}» ще не приймає звернень про це місце",
                            f"{hromada.name_en} does not take reports about this place yet")
    return [{"code": r.code, "uk": r.name_uk, "en": r.name_en or r.name_uk} for r in rows]


def place_of_point(conn: sa.Connection, hromada: Hromada, lon: float, lat: float) -> dict:
    """How a shared location reads: its village (if inside one) and coordinates, in both languages."""
    village = conn.execute(sa.text("""SELECT name_uk, coalesce(name_en, name_uk) FROM
                                      settlement_at(:h, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"""),
                           {"h": hromada.id, "lon": lon, "lat": lat}).first()
    where = f"{lat:.5f}, {lon:.5f}"
    return {"uk": f"{village[0]} ({where})" if village else where,
            "en": f"{village[1]} ({where})" if village else where}


def find_place(conn: sa.Connection, hromada: Hromada, text: str) -> dict:
    """The place a typed address means, in the bot's hromada (layers.places.place_for): InvalidInput
    for an empty or too long text, places.PlaceNotFound with ``suggestions`` when unsure."""
    return places.place_for(conn, text, hromada_id=hromada.id)


# --- the conversation's result ---------------------------------------------------------------------------

@dataclass
class Draft:
    """What a conversation has gathered so far. ``started_by`` is the id of the message that began it:
    with the chat's id, the report's idempotency key."""

    started_by: int
    lang: str = "uk"
    lon: float | None = None
    lat: float | None = None
    place: dict | None = None  # {"uk": label, "en": label}
    offered: list[dict] = field(default_factory=list)  # the categories offered at the place
    suggestions: list[dict] = field(default_factory=list)  # places offered for a typed address
    category: dict | None = None  # one of ``offered``
    description: str | None = None
    photos: list[Photo] = field(default_factory=list)

    def set_place(self, lon: float, lat: float, label: dict, offered: list[dict]) -> None:
        self.lon, self.lat, self.place, self.offered, self.suggestions = lon, lat, label, offered, []
        if self.category is not None and self.category["code"] not in {c["code"] for c in offered}:
            self.category = None

    def choose_category(self, code: str) -> dict:
        for offered in self.offered:
            if offered["code"] == code:
                self.category = offered
                return offered
        raise InvalidInput("Оберіть категорію з кнопок під останнім повідомленням",
                           "Choose a category with the buttons under the last message")

    def describe(self, text: str | None) -> str:
        self.description = reports.check_description(text)  # the web form's check and message
        return self.description

    def check_room_for_photo(self) -> None:
        if len(self.photos) >= MAX_PHOTOS:
            raise InvalidInput(f"Більше фото не можна: до {MAX_PHOTOS}. Надішліть звернення",
                               f"No more photos: at most {MAX_PHOTOS}. Send the report")

    def add_photo(self, data: bytes, name: str = "photo") -> Photo:
        """Check and clean a photo (gis.photos: content checked, EXIF stripped, resized) and keep it."""
        self.check_room_for_photo()
        photo = process_photo(data, name)
        self.photos.append(photo)
        return photo

    def ready(self) -> bool:
        return None not in (self.lon, self.lat, self.category, self.description)

    def new_report(self) -> reports.NewReport:
        return reports.NewReport(lon=self.lon, lat=self.lat, category=self.category["code"],
                                 description=self.description or "", photos=list(self.photos))

    def fingerprint(self) -> str:
        digest = hashlib.sha256(json.dumps(
            [self.lon, self.lat, self.category and self.category["code"], self.description]).encode())
        for photo in self.photos:
            digest.update(hashlib.sha256(photo.jpeg).digest())
        return digest.hexdigest()


def idempotency_key(chat_id: int, started_by: int) -> str:
    return f"{chat_id}:{started_by}"


@dataclass(frozen=True)
class Filed:
    answer: dict  # layers.reports.create_report's answer (code, private_url, unit, …)
    repeated: bool  # True: filed before (a re-delivered update); nothing new was stored


def file_report(engine: sa.Engine, chat_id: int, draft: Draft, *, public_url: str) -> Filed:
    """File the draft as the web form does, once per conversation (see the module's docstring), and keep
    the chat as the report's contact channel. The errors of create_report (InvalidInput, Unprocessable)
    come through with their messages in both languages."""
    if not draft.ready():
        raise InvalidInput("Звернення ще не заповнене: місце, категорія й опис",
                           "The report is not complete yet: place, category and description")
    key = idempotency_key(chat_id, draft.started_by)
    with engine.begin() as conn:
        # A concurrent claim of the same key waits here until the first commits (gis.idempotency_keys).
        earlier = idempotency_keys.claim(conn, SCOPE, key, draft.fingerprint())
        if earlier is not None:
            return Filed(earlier.response, True)
        answer = reports.create_report(conn, draft.new_report(), public_url=public_url)
        # Joined to an open report on the same lamp ("me too"): the chat follows it as a supporter.
        remember_chat(conn, answer["id"], chat_id, draft.lang, is_reporter=not answer["joined_existing"])
        idempotency_keys.record(conn, SCOPE, key, 201, answer)
    return Filed(answer, False)


def earlier_answer(engine: sa.Engine, chat_id: int, started_by: int) -> dict | None:
    """The answer of the report a conversation filed, if it did (after a restart the conversation itself
    is gone; what was filed is not)."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT response FROM idempotency_key WHERE scope = :s AND key = :k "
                                    "AND response IS NOT NULL"),
                            {"s": SCOPE, "k": idempotency_key(chat_id, started_by)}).scalar()


# --- the chat as a contact channel ---------------------------------------------------------------------

def remember_chat(conn: sa.Connection, report_id: int, chat_id: int, lang: str, *, is_reporter: bool = True) -> None:
    stmt = pg_insert(report_chat).values(report_id=report_id, chat_id=chat_id, language=lang, is_reporter=is_reporter)
    conn.execute(stmt.on_conflict_do_update(index_elements=[report_chat.c.report_id, report_chat.c.chat_id],
                                            set_={"language": lang}))


def set_chat_language(conn: sa.Connection, chat_id: int, lang: str) -> int:
    """The chat's reports are told of in ``lang`` from now on; how many."""
    return conn.execute(report_chat.update().where(report_chat.c.chat_id == chat_id).values(language=lang)).rowcount


def chat_reports(conn: sa.Connection, chat_id: int, hromada_id: int, limit: int = 20) -> list[dict]:
    """The chat's reports in the hromada, newest first: code, status, category, when, and whether the
    chat filed it or joined it."""
    rows = conn.execute(sa.text("""
        SELECT r.code, r.status, r.created_at, c.name_uk, coalesce(c.name_en, c.name_uk) AS name_en, rc.is_reporter
        FROM report_chat rc JOIN report r ON r.id = rc.report_id JOIN category c ON c.id = r.category_id
        WHERE rc.chat_id = :chat AND r.hromada_id = :h
        ORDER BY r.created_at DESC, r.id DESC LIMIT :n"""), {"chat": chat_id, "h": hromada_id, "n": limit}).mappings()
    return [{"code": r["code"], "status": r["status"], "created_at": r["created_at"],
             "category": {"uk": r["name_uk"], "en": r["name_en"]}, "is_reporter": r["is_reporter"]} for r in rows]


# --- telling the chats ----------------------------------------------------------------------------------

def _text(lines: Sequence[str]) -> str:
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


def tell_chats(conn: sa.Connection, report_id: int, event_key: str, lines_uk: Sequence[str],
               lines_en: Sequence[str]) -> int:
    """One message about the change ``event_key`` to each chat of the report, in the chat's language, in
    the caller's transaction; queued once per change and chat however often it is retried. A report
    that is not public is news for its reporter's chat only. Returns how many were queued."""
    text_uk, text_en = _text(lines_uk), _text(lines_en)
    return conn.execute(sa.text("""
        INSERT INTO telegram_outbox (report_id, chat_id, text, key)
        SELECT rc.report_id, rc.chat_id, CASE WHEN rc.language = 'uk' THEN :uk ELSE :en END,
               'report-' || rc.report_id || '-' || :event || '-chat-' || rc.chat_id
        FROM report_chat rc JOIN report r ON r.id = rc.report_id
        WHERE rc.report_id = :r AND (r.is_public OR rc.is_reporter)
        ORDER BY rc.id
        ON CONFLICT (key) DO NOTHING"""), {"r": report_id, "event": event_key, "uk": text_uk, "en": text_en}).rowcount


@dataclass(frozen=True)
class Queued:
    id: int
    chat_id: int
    text: str
    attempts: int


def claim_one(engine: sa.Engine, hromada_id: int) -> Queued | None:
    """Take the next due message about the hromada's reports (or one whose sender's lease ran out);
    None when nothing is due. Several bot processes never take the same one."""
    with engine.begin() as conn:
        conn.execute(sa.text("""UPDATE telegram_outbox SET status = 'failed', last_error = 'sender lost it too often'
                                WHERE status = 'sending' AND locked_until < now() AND attempts >= :max"""),
                     {"max": MAX_ATTEMPTS})
        row = conn.execute(sa.text("""
            UPDATE telegram_outbox SET status = 'sending', attempts = attempts + 1, locked_until = now() + :lease
            WHERE id = (
                SELECT o.id FROM telegram_outbox o JOIN report r ON r.id = o.report_id
                WHERE r.hromada_id = :h AND ((o.status = 'pending' AND o.next_attempt_at <= now())
                                             OR (o.status = 'sending' AND o.locked_until < now()))
                ORDER BY o.id FOR UPDATE OF o SKIP LOCKED LIMIT 1)
            RETURNING id, chat_id, text, attempts"""), {"lease": LEASE, "h": hromada_id}).first()
    return Queued(row.id, row.chat_id, row.text, row.attempts) if row is not None else None


def record_sent(engine: sa.Engine, message_id: int) -> None:
    outbox.record_outcome(engine, "UPDATE telegram_outbox SET status = 'sent', sent_at = now(), "
                                  "locked_until = NULL, last_error = NULL WHERE id = :id", {"id": message_id})


def record_failure(engine: sa.Engine, message: Queued, error: str, *, give_up: bool = False,
                   wait_seconds: float | None = None) -> None:
    """A failed send: tried again after ``wait_seconds`` (Telegram's "retry after"), else with exponential
    back-off; given up (``failed``) when ``give_up`` (the chat blocked the bot, or is gone) or after
    MAX_ATTEMPTS."""
    give_up = give_up or message.attempts >= MAX_ATTEMPTS
    wait = dt.timedelta(seconds=wait_seconds) if wait_seconds is not None else outbox.backoff(message.attempts)
    outbox.record_outcome(engine, """UPDATE telegram_outbox SET status = :status, next_attempt_at = now() + :wait,
                                     locked_until = NULL, last_error = :error WHERE id = :id""",
                          {"status": "failed" if give_up else "pending", "wait": wait, "error": error[:500],
                           "id": message.id})
