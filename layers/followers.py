"""The residents who follow a report — its reporter and everyone who said "me too" or "follow" with an
e-mail — are told of every public change, and can stop it.

- Double opt-in: an address gets mail about reports only once it has confirmed a link sent to it
  (once per address, not per report). Until then it gets only that request — for a reporter, inside
  the "we received your report" mail with the tracking code and the private link.
- Every mail about a report carries a signed one-click unsubscribe for that report (``List-Unsubscribe``
  and ``List-Unsubscribe-Post``, RFC 8058) and a link that stops all mail to the address.
- Mails are written to the outbox in the transaction of the change (gis.outbox), keyed so that a
  retried change never mails twice.

The links are signed with the app's secret (itsdangerous, as the units' links): confirming names the
address, unsubscribing names one subscription, stopping names the address. They do not expire — an
unsubscribe link must keep working as long as mail can arrive.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis import outbox
from gis.errors import InvalidInput
from gis.models import follower_digest_item, mail_address, report_subscriber
from layers.report_states import readable_report_url
from layers.unit_mail import link_secret

CONFIRM = "follow-confirm"
UNSUBSCRIBE = "follow-unsubscribe"
STOP_ALL = "mail-stop-all"
SIGNATURE = "Громада ГІС / Hromada GIS"


def normalised(email: str) -> str:
    return email.strip().lower()


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(link_secret(), salt=purpose)


def make_token(purpose: str, value) -> str:
    return _serializer(purpose).dumps(value)


def read_token(purpose: str, token: str):
    try:
        return _serializer(purpose).loads(token)
    except BadSignature:
        raise InvalidInput("Посилання пошкоджене або не наше: скопіюйте його з листа повністю",
                           "The link is damaged or not ours: copy it from the mail in full") from None


def confirm_url(public_url: str, email: str) -> str:
    return f"{public_url}/mail/confirm/{make_token(CONFIRM, normalised(email))}"


def unsubscribe_url(public_url: str, subscriber_id: int) -> str:
    return f"{public_url}/mail/unsubscribe/{make_token(UNSUBSCRIBE, subscriber_id)}"


def stop_all_url(public_url: str, email: str) -> str:
    return f"{public_url}/mail/stop/{make_token(STOP_ALL, normalised(email))}"


def _address_key(email: str) -> str:
    """A short stable tag of an address for outbox keys (the keys are Message-IDs: no address in them)."""
    return hashlib.sha256(normalised(email).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Address:
    confirmed: bool
    stopped: bool


def address(conn: sa.Connection, email: str) -> Address:
    """The address's state, recording it on first sight."""
    email = normalised(email)
    conn.execute(pg_insert(mail_address).values(email=email).on_conflict_do_nothing())
    row = conn.execute(sa.select(mail_address.c.confirmed_at, mail_address.c.stopped_at)
                       .where(mail_address.c.email == email)).one()
    return Address(confirmed=row.confirmed_at is not None, stopped=row.stopped_at is not None)


def subscribe(conn: sa.Connection, report_id: int, email: str, *, is_reporter: bool = False) -> tuple[int, bool]:
    """Make ``email`` a follower of the report (again, if it had unsubscribed). Returns the subscription's
    id and whether it is new or renewed (False: it was following already)."""
    row = conn.execute(sa.text("""
        INSERT INTO report_subscriber (report_id, email, is_reporter) VALUES (:r, :e, :rep)
        ON CONFLICT (report_id, lower(email)) DO UPDATE SET unsubscribed_at = NULL
            WHERE report_subscriber.unsubscribed_at IS NOT NULL
        RETURNING id"""), {"r": report_id, "e": email.strip(), "rep": is_reporter}).first()
    if row is not None:
        return row.id, True
    existing = conn.execute(sa.select(report_subscriber.c.id).where(
        report_subscriber.c.report_id == report_id,
        sa.func.lower(report_subscriber.c.email) == normalised(email))).scalar_one()
    return existing, False


def follow(conn: sa.Connection, report_id: int, code: str, email: str, *, public_url: str) -> str:
    """A resident follows a report ("follow" or "me too" with an e-mail). Returns what happens next:
    ``following`` (a confirmed address: updates will come), ``confirm`` (a confirmation request was
    sent), or ``stopped`` (the address asked for no mail; nothing is sent)."""
    state = address(conn, email)
    subscribe(conn, report_id, email)
    if state.stopped:
        return "stopped"
    if state.confirmed:
        return "following"
    link = confirm_url(public_url, email)
    page = readable_report_url(public_url, code)
    body = "\n".join([
        f"Ви попросили повідомляти вас про звернення {code} ({page}).",
        f"Щоб отримувати листи, підтвердьте адресу: {link}",
        "Якщо це були не ви, нічого не робіть — листів більше не буде.",
        "", "—", "",
        f"You asked to be told about report {code} ({page}).",
        f"To receive mail, confirm your address: {link}",
        "If this was not you, do nothing — no more mail will come.",
        "", SIGNATURE])
    outbox.enqueue(conn, to_addr=email.strip(), subject=f"Підтвердьте адресу / Confirm your address ({code})",
                   body=body, report_id=report_id, key=f"follow-confirm-{report_id}-{_address_key(email)}")
    return "confirm"


def tell_reporter_received(conn: sa.Connection, report_id: int, code: str, email: str, private_url: str, *,
                           public_url: str) -> None:
    """The reporter's mail at submission: the tracking code, the private link, and — for an address not
    yet confirmed — the link that turns on the updates."""
    state = address(conn, email)
    subscriber_id, _ = subscribe(conn, report_id, email, is_reporter=True)
    if state.stopped:
        return
    page = readable_report_url(public_url, code)
    private_url = f"{page}?{private_url.split('?', 1)[1]}"  # the same link, readable
    uk = [f"Ваше звернення отримано. Код для відстеження: {code}.",
          f"Сторінка звернення: {page}",
          f"Ваше особисте посилання (не пересилайте його): {private_url}"]
    en = [f"Your report has been received. Tracking code: {code}.",
          f"The report's page: {page}",
          f"Your private link (do not forward it): {private_url}"]
    if not state.confirmed:
        link = confirm_url(public_url, email)
        uk.append(f"Щоб отримувати листи про зміни, підтвердьте адресу: {link}")
        en.append(f"To be told of every change, confirm your address: {link}")
    enqueue_report_mail(conn, report_id, subscriber_id, email, f"Звернення {code} отримано / Report {code} received",
                        uk, en, key=f"report-{report_id}-received", public_url=public_url)


def tell_followers(conn: sa.Connection, report_id: int, event_key: str, subject: tuple[str, str],
                   lines_uk: Sequence[str], lines_en: Sequence[str], *, public_url: str) -> int:
    """One mail to each confirmed follower of the report who has not unsubscribed or stopped all mail.
    ``event_key`` names the change (one mail per change and follower, however often it is retried).
    Returns how many were queued."""
    # A report that is not public (hidden, or waiting for approval: layers.moderation) is news for its
    # reporter only.
    followers = conn.execute(sa.text("""
        SELECT s.id, s.email, COALESCE(rs.report_updates, 'immediate') AS how
        FROM report_subscriber s JOIN mail_address a ON a.email = lower(s.email)
        JOIN report r ON r.id = s.report_id LEFT JOIN resident_setting rs ON rs.email = lower(s.email)
        WHERE s.report_id = :r AND s.unsubscribed_at IS NULL
          AND a.confirmed_at IS NOT NULL AND a.stopped_at IS NULL AND (r.is_public OR s.is_reporter)
        ORDER BY s.id"""), {"r": report_id}).all()
    for follower in followers:
        if follower.how == "daily":  # chosen in the cabinet (layers.cabinet): kept for the day's digest
            conn.execute(pg_insert(follower_digest_item).values(
                subscriber_id=follower.id, event_key=event_key, lines_uk="\n".join(lines_uk),
                lines_en="\n".join(lines_en)).on_conflict_do_nothing())
            continue
        enqueue_report_mail(conn, report_id, follower.id, follower.email, f"{subject[0]} / {subject[1]}", lines_uk,
                            lines_en, key=f"report-{report_id}-{event_key}-sub-{follower.id}", public_url=public_url)
    return len(followers)


def enqueue_report_mail(conn: sa.Connection, report_id: int, subscriber_id: int, email: str, subject: str,
             lines_uk: Sequence[str], lines_en: Sequence[str], *, key: str, public_url: str) -> None:
    """One mail about a report to one follower, with its unsubscribe and stop-all links and headers."""
    unsubscribe = unsubscribe_url(public_url, subscriber_id)
    stop = stop_all_url(public_url, email)
    body = "\n".join([
        *lines_uk, "", f"Не надсилати листів про це звернення: {unsubscribe}",
        f"Не надсилати жодних листів на цю адресу: {stop}",
        "", "—", "",
        *lines_en, "", f"No more mail about this report: {unsubscribe}",
        f"No mail at all to this address: {stop}",
        "", SIGNATURE])
    outbox.enqueue(conn, to_addr=email.strip(), subject=subject, body=body, report_id=report_id, key=key,
                   headers={"List-Unsubscribe": f"<{unsubscribe}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


# --- the links' actions ------------------------------------------------------------------------------

def confirm(conn: sa.Connection, token: str) -> str:
    """The address of a confirmation link is confirmed (and mail to it allowed again). Returns it."""
    email = read_token(CONFIRM, token)
    address(conn, email)
    conn.execute(mail_address.update().where(mail_address.c.email == email).values(
        confirmed_at=sa.func.coalesce(mail_address.c.confirmed_at, sa.func.now()), stopped_at=None))
    return email


def unsubscribe(conn: sa.Connection, token: str) -> str | None:
    """The one subscription of an unsubscribe link ends. Returns the report's code (None: it is gone)."""
    subscriber_id = read_token(UNSUBSCRIBE, token)
    row = conn.execute(sa.text("""
        UPDATE report_subscriber s SET unsubscribed_at = COALESCE(s.unsubscribed_at, now())
        FROM report r WHERE s.id = :id AND r.id = s.report_id RETURNING r.code"""), {"id": subscriber_id}).first()
    return row.code if row else None


def stop_all(conn: sa.Connection, token: str) -> str:
    """No more mail of any kind to the address of a stop link. Returns the address."""
    email = read_token(STOP_ALL, token)
    address(conn, email)
    conn.execute(mail_address.update().where(mail_address.c.email == email).values(
        stopped_at=sa.func.coalesce(mail_address.c.stopped_at, sa.func.now())))
    return email


def masked(email: str) -> str:
    """An address shown on a page reached by a link: enough to recognise, not to harvest."""
    name, _, domain = email.partition("@")
    return f"{name[:2]}…@{domain}" if domain else "…"


# --- the daily digest of those who chose it ----------------------------------------------------------

def queue_digests(conn: sa.Connection, now: dt.datetime, public_url: str, *, hour: int | None = None) -> int:
    """One mail per address and Kyiv day gathering the report news kept for it before that day's digest
    hour (layers.unit_mail.digest_day); the number of addresses mailed. Safe to run as often as wanted:
    a day's digest of an address is queued once (outbox key), what comes later waits for the next."""
    from layers.unit_mail import digest_day

    day, cutoff = digest_day(now, hour)
    items = conn.execute(sa.text("""
        SELECT i.id, lower(s.email) AS email, i.lines_uk, i.lines_en, s.id AS subscriber_id
        FROM follower_digest_item i JOIN report_subscriber s ON s.id = i.subscriber_id
        JOIN mail_address a ON a.email = lower(s.email)
        WHERE i.digested_at IS NULL AND i.created_at < :cutoff AND s.unsubscribed_at IS NULL
          AND a.stopped_at IS NULL
        ORDER BY lower(s.email), i.created_at, i.id
        FOR UPDATE OF i SKIP LOCKED"""), {"cutoff": cutoff}).all()
    by_address: dict[str, list] = {}
    for item in items:
        by_address.setdefault(item.email, []).append(item)
    when = day.strftime("%d.%m.%Y")
    for email, news in by_address.items():
        stop = stop_all_url(public_url, email)
        body = "\n".join([
            f"Новини звернень, за якими ви стежите, за {when}:", "",
            *("\n".join([item.lines_uk, f"Не надсилати листів про це звернення: "
                                        f"{unsubscribe_url(public_url, item.subscriber_id)}", ""]) for item in news),
            f"Не надсилати жодних листів на цю адресу: {stop}", "", "—", "",
            f"News of the reports you follow, {day.isoformat()}:", "",
            *("\n".join([item.lines_en, f"No more mail about this report: "
                                        f"{unsubscribe_url(public_url, item.subscriber_id)}", ""]) for item in news),
            f"No mail at all to this address: {stop}", "", SIGNATURE])
        outbox.enqueue(conn, to_addr=email, subject=f"Звернення за день {when} / Reports of {day.isoformat()}",
                       body=body, key=f"follower-digest-{_address_key(email)}-{day.isoformat()}",
                       headers={"List-Unsubscribe": f"<{stop}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        conn.execute(sa.text("UPDATE follower_digest_item SET digested_at = now() WHERE id = ANY(:ids)"),
                     {"ids": [item.id for item in news]})
    return len(by_address)


def digest_job(public_url: str):
    """For the outbox worker's loop (gis.outbox.run_worker ``periodic``): queue the digests that are due."""
    def job(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            queue_digests(conn, dt.datetime.now(dt.timezone.utc), public_url)
    return job
