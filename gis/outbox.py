"""Reliable e-mail: an outbox table written with the change, delivered by a worker over SMTP.

``enqueue`` writes a message in the caller's transaction, so a status change and its e-mail
commit or roll back together. The worker:

1. claims one due message (``FOR UPDATE SKIP LOCKED``; several workers never take the same one),
   marks it ``sending`` with a lease, and commits;
2. sends it over SMTP with a Message-ID fixed by the outbox row;
3. marks it ``sent`` — retrying that write until the database answers, so a database restart
   after the send does not cause a second send.

A failed send is retried with exponential back-off and given up (``failed``) after MAX_ATTEMPTS.
A message whose worker died between claiming and finishing is taken again when its lease ends; only
a worker killed in the instant between the SMTP answer and step 3 can cause a repeat, and its fixed
Message-ID lets mail software drop the copy.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import threading
import time
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate

import sqlalchemy as sa

from gis import direct_sql

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
MAIL_DOMAIN = "hromada-gis.local"


def enqueue(conn: sa.Connection, *, to_addr: str, subject: str, body: str, key: str,
            report_id: int | None = None, headers: dict[str, str] | None = None) -> None:
    """Queue a mail in the caller's transaction; ``key`` makes it unique (queued twice → once).
    ``headers``: extra header fields (List-Unsubscribe …)."""
    direct_sql.cursor(conn, """
        INSERT INTO outbox (to_addr, subject, body, message_id, report_id, headers)
        VALUES (%(to)s, %(subject)s, %(body)s, %(mid)s, %(report)s, CAST(%(headers)s AS jsonb))
        ON CONFLICT (message_id) DO NOTHING""",
        {"to": to_addr, "subject": subject, "body": body, "mid": f"<{key}@{MAIL_DOMAIN}>", "report": report_id,
         "headers": json.dumps(headers) if headers else None})


@dataclass(frozen=True)
class SmtpSettings:
    """Where mail goes. ``host=None`` prints mail to the log instead (the default of `make run`)."""

    host: str | None = None
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = "Громада ГІС <noreply@hromada-gis.local>"
    timeout: float = 20

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        env = os.environ
        return cls(host=env.get("HROMADA_SMTP_HOST") or None, port=int(env.get("HROMADA_SMTP_PORT", "25")),
                   username=env.get("HROMADA_SMTP_USER") or None, password=env.get("HROMADA_SMTP_PASSWORD") or None,
                   starttls=env.get("HROMADA_SMTP_STARTTLS", "") in ("1", "true", "yes"),
                   sender=env.get("HROMADA_MAIL_FROM", cls.sender))


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def _message(row, settings: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = formatdate(localtime=False)
    for name, value in (getattr(row, "headers", None) or {}).items():
        msg[name] = value
    msg.set_content(row.body)
    # Issue #14: Python 3.11 folds a long non-ASCII Subject between encoded words and so loses the space
    # there ("звернення ЯК-…" arrives as "зверненняЯК-…"). Headers are folded when the message is sent,
    # by its policy: unfolded lines (up to SMTP's 998) keep every space; the body is encoded already.
    msg.policy = email_policy.default.clone(max_line_length=998)
    return msg


def _send(msg: EmailMessage, settings: SmtpSettings) -> None:
    if settings.host is None:
        # Readable: the header fields and the text itself, not the transfer encoding (base64).
        fields = "\n".join(f"{name}: {value}" for name, value in msg.items())
        log.info("mail (console, not sent):\n%s\n\n%s", fields, msg.get_content())
        return
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(msg)


def claim_one(engine: sa.Engine):
    """Take the next due message (or one whose worker's lease ran out); None when nothing is due."""
    with engine.begin() as conn:
        # A message whose workers keep dying with it is given up rather than retried for ever.
        conn.execute(sa.text("""UPDATE outbox SET status = 'failed', last_error = 'worker lost it too often'
                                WHERE status = 'sending' AND locked_until < now() AND attempts >= :max"""),
                     {"max": MAX_ATTEMPTS})
        return conn.execute(sa.text("""
            UPDATE outbox SET status = 'sending', attempts = attempts + 1, locked_until = now() + :lease
            WHERE id = (
                SELECT id FROM outbox
                WHERE (status = 'pending' AND next_attempt_at <= now())
                   OR (status = 'sending' AND locked_until < now())
                ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING id, to_addr, subject, body, message_id, attempts, headers"""), {"lease": LEASE}).first()


def record_outcome(engine: sa.Engine, sql: str, params: dict) -> None:
    """Write a delivery's outcome, waiting out a database restart rather than losing it (this outbox's and
    layers.telegram_channel's).

    Deliberately not interrupted by a stop request: a mail that went out must be marked sent, or
    the next worker would send it again once the lease ends.
    """
    delay = 0.2
    while True:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
            return
        except sa.exc.OperationalError as exc:
            log.warning("database unavailable while recording a delivery (%s); retrying", exc.orig)
            time.sleep(delay)
            delay = min(delay * 2, 5)


def deliver_one(engine: sa.Engine, settings: SmtpSettings) -> bool:
    """Deliver one due message; False when none was due."""
    row = claim_one(engine)
    if row is None:
        return False
    try:
        _send(_message(row, settings), settings)
    except Exception as exc:  # SMTP, network, or a message that cannot be built: retried, then given up
        give_up = row.attempts >= MAX_ATTEMPTS
        log.warning("outbox: message %s to %s failed (attempt %s): %s", row.id, row.to_addr, row.attempts, exc)
        record_outcome(engine, """UPDATE outbox SET status = :status, next_attempt_at = now() + :wait,
                                  locked_until = NULL, last_error = :error WHERE id = :id""",
                       {"status": "failed" if give_up else "pending", "wait": backoff(row.attempts),
                        "error": str(exc)[:500], "id": row.id})
        return True
    record_outcome(engine, "UPDATE outbox SET status = 'sent', sent_at = now(), locked_until = NULL, "
                           "last_error = NULL WHERE id = :id", {"id": row.id})
    log.info("outbox: sent message %s to %s", row.id, row.to_addr)
    return True


def deliver_due(engine: sa.Engine, settings: SmtpSettings, limit: int = 1000) -> int:
    """Deliver what is due now (up to ``limit``); the number of messages handled."""
    handled = 0
    while handled < limit and deliver_one(engine, settings):
        handled += 1
    return handled


def each(*jobs):
    """Several periodic jobs as one ``periodic``: each runs in turn, and a failing one does not keep
    the others from running."""
    def run(engine: sa.Engine) -> None:
        for job in jobs:
            try:
                job(engine)
            except Exception:
                log.exception("outbox worker: periodic job %s failed; trying again later", job)
    return run


def run_worker(engine: sa.Engine, settings: SmtpSettings, stop: threading.Event, poll_seconds: float = 2.0, *,
               periodic=None, period_seconds: float = 60.0) -> None:
    """Deliver until ``stop`` is set; rides out database restarts. ``periodic(engine)``, when given, runs
    about every ``period_seconds`` first (issue #14: the units' daily digests, layers.unit_mail.digest_job)."""
    log.info("outbox worker started (%s)", f"SMTP {settings.host}:{settings.port}" if settings.host else "console")
    next_periodic = time.monotonic()
    while not stop.is_set():
        if periodic is not None and time.monotonic() >= next_periodic:
            next_periodic = time.monotonic() + period_seconds
            try:
                periodic(engine)
            except Exception:  # a failing job must not stop delivery; it is tried again next period
                log.exception("outbox worker: periodic job failed; trying again later")
        try:
            if deliver_one(engine, settings):
                continue
        except sa.exc.OperationalError as exc:
            log.warning("outbox worker: database unavailable (%s); waiting", exc.orig)
        except Exception:  # the worker must outlive any one bad moment; the message's lease brings it back
            log.exception("outbox worker: unexpected error; going on")
        stop.wait(poll_seconds)
    log.info("outbox worker stopped")
