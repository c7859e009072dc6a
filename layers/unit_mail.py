"""The unit is told (issue #14): a report routed or transferred to a unit reaches its people by e-mail.

``tell_unit`` runs in the transaction that routes or transfers the report (layers.reports calls it
right after the "created" / "transfer" event). It records a ``unit_notice`` — unique per unit and
event, so a report is told to a unit exactly once — and, for a unit that wants every report at once
(``notify_mode = 'each'``), queues one mail per address through the outbox with a key derived from
the notice (the worker retries; a retry never duplicates). A unit on ``'digest'`` gets nothing at
once: ``queue_digests`` gathers its untold notices into one mail per Kyiv day.

A unit reached by e-mail only (``has_accounts = False``, an outside body) gets in each mail a signed
link (itsdangerous, the app's SECRET_KEY, a salt of its own; report id + unit id) to
``/unit-link/<token>`` (webmap/unit_link.py), where it acknowledges, adds a public note, marks the
report resolved or says "not ours" — without an account. The link expires after
``HROMADA_UNIT_LINK_DAYS`` days (30 by default) and works only while the report is with that unit.

The mails carry no personal data of the reporter: staff see those on the staff page.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from gis import direct_sql, outbox
from gis.errors import HromadaError, NotFound
from layers.report_states import STATUSES, readable_report_url

log = logging.getLogger(__name__)

KYIV = ZoneInfo("Europe/Kyiv")
LINK_SALT = "hromada.unit-link.v1"  # a token signed for anything else (a session cookie) is never one of these
DEFAULT_LINK_DAYS = 30
DEFAULT_DIGEST_HOUR = 7  # Kyiv time: a unit's digest covers what came before this hour of the day
DIGEST_LOCK = 14_0001  # pg_advisory_xact_lock class: one digest run per unit at a time
DESCRIPTION_IN_DIGEST = 300  # characters; the whole text is one click away
SIGNATURE = "Громада ГІС / Hromada GIS"


# --- settings --------------------------------------------------------------------------------------


def link_days() -> float:
    """``HROMADA_UNIT_LINK_DAYS`` (a positive number), else 30. A bad value is logged, never fatal:
    a report must not fail to arrive because of a typo in a setting."""
    raw = os.environ.get("HROMADA_UNIT_LINK_DAYS", "").strip()
    if not raw:
        return DEFAULT_LINK_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = 0
    if not 0 < days <= 3650:
        log.warning("HROMADA_UNIT_LINK_DAYS=%r is not a number of days from 1 to 3650; using %s",
                    raw, DEFAULT_LINK_DAYS)
        return DEFAULT_LINK_DAYS
    return days


def digest_hour() -> int:
    """``HROMADA_DIGEST_HOUR`` (0–23, Kyiv time), else 7."""
    raw = os.environ.get("HROMADA_DIGEST_HOUR", "").strip()
    if raw.isdigit() and 0 <= int(raw) <= 23:
        return int(raw)
    if raw:
        log.warning("HROMADA_DIGEST_HOUR=%r is not an hour from 0 to 23; using %s", raw, DEFAULT_DIGEST_HOUR)
    return DEFAULT_DIGEST_HOUR


def link_secret() -> str:
    """The key that signs units' links: the web app's SECRET_KEY.

    Inside a request (or any app context) it is the app's; elsewhere (the CLI, the worker) the same
    key the app takes when it starts: HROMADA_SECRET_KEY, else the one kept in var/secret_key.
    """
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config["SECRET_KEY"]
    from gis.config import secret_key

    return secret_key()


def configured_public_url(given: str | None = None) -> str:
    """The base of links in mails: ``given`` (web views pass the request's); else HROMADA_PUBLIC_URL;
    else the address `make run` serves on."""
    if given:
        return given.rstrip("/")
    return (os.environ.get("HROMADA_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")


# --- signed links ----------------------------------------------------------------------------------


class LinkExpired(HromadaError):
    http_status = 410
    code = "link_expired"


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=LINK_SALT)


def make_link_token(secret: str, report_id: int, unit_id: int) -> str:
    return _serializer(secret).dumps({"r": int(report_id), "u": int(unit_id)})


def read_link_token(secret: str, token: str, max_age_seconds: float) -> tuple[int, int]:
    """(report id, unit id) of a genuine, unexpired link. Expired: LinkExpired (410); forged,
    damaged or of another kind: NotFound (404)."""
    try:
        data = _serializer(secret).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise LinkExpired("Термін дії посилання минув. Попросіть громаду надіслати звернення ще раз.",
                          "This link has expired. Ask the hromada to send the report again.") from None
    except BadData:
        raise NotFound("Посилання недійсне: перевірте, чи скопійовано його повністю.",
                       "This link is not valid: check that it was copied whole.") from None
    if (not isinstance(data, dict) or set(data) != {"r", "u"}
            or not all(type(data[k]) is int for k in ("r", "u"))):
        raise NotFound("Посилання недійсне", "This link is not valid")
    return data["r"], data["u"]


def link_url(public_url: str, token: str) -> str:
    return f"{public_url}/unit-link/{token}"


# --- what a mail says about a report ---------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    id: int
    hromada_id: int
    code: str
    name_uk: str
    name_en: str
    emails: tuple[str, ...]
    has_accounts: bool
    notify_mode: str


@dataclass(frozen=True)
class Facts:
    """One report as a unit is told about it, with why it came to the unit."""

    report_id: int
    code: str
    status: str
    unit_id: int  # where the report is now
    category_uk: str
    category_en: str
    description: str
    lon: float
    lat: float
    village_uk: str | None
    village_en: str | None
    in_village: bool
    due_at: dt.datetime
    photos: tuple[int, ...]
    why_uk: str
    why_en: str
    transferred: bool


# A unit's row as Unit needs it, its columns named unit_* so that other statements can read it beside
# their own (a report's intake reads it with the hromada's).
UNIT_COLUMNS = """u.id AS unit_id, u.hromada_id AS unit_hromada_id, u.code AS unit_code, u.name_uk AS unit_uk,
    COALESCE(u.name_en, u.name_uk) AS unit_en, u.emails AS unit_emails, u.has_accounts AS unit_has_accounts,
    u.notify_mode AS unit_notify_mode"""


def unit_from_row(row) -> Unit | None:
    """The Unit of a row read with UNIT_COLUMNS (None when it has none)."""
    if row is None or row.unit_id is None:
        return None
    emails = tuple(dict.fromkeys(e.strip() for e in (row.unit_emails or ()) if e and e.strip()))
    return Unit(row.unit_id, row.unit_hromada_id, row.unit_code, row.unit_uk, row.unit_en, emails,
                row.unit_has_accounts, row.unit_notify_mode)


def load_unit(conn: sa.Connection, unit_id: int) -> Unit | None:
    return unit_from_row(direct_sql.first(conn, f"SELECT {UNIT_COLUMNS} FROM unit u WHERE u.id = %(id)s",
                                          {"id": unit_id}))


def village_join(hromada: str, point: str) -> str:
    """A lateral join ``v`` (name_uk, name_en, inside) of the village the point ``point`` of the hromada
    ``hromada`` (SQL expressions) is in (settlement_at); outside every village, the nearest one."""
    return f"""LEFT JOIN LATERAL (
            SELECT * FROM (SELECT s.name_uk, s.name_en, true AS inside FROM settlement_at({hromada}, {point}) s
                           UNION ALL
                           (SELECT s.name_uk, s.name_en, false FROM settlement s WHERE s.hromada_id = {hromada}
                            ORDER BY COALESCE(s.centre, ST_PointOnSurface(s.boundary)) <-> {point} LIMIT 1)) c
            ORDER BY inside DESC LIMIT 1) v ON true"""


VILLAGE_COLUMNS = ("v.name_uk AS village_uk, COALESCE(v.name_en, v.name_uk) AS village_en, "
                   "COALESCE(v.inside, false) AS inside")


# A report and the event that brought it to a unit, for report_facts.
_FACTS_SQL = f"""
        SELECT r.id, r.code, r.status, r.unit_id, r.description, r.due_at, r.routing_reason_uk, r.routing_reason_en,
               ST_X(r.location) AS lon, ST_Y(r.location) AS lat, c.name_uk AS category_uk, c.name_en AS category_en,
               {VILLAGE_COLUMNS},
               e.kind, e.private_note AS reason, fu.name_uk AS from_uk, COALESCE(fu.name_en, fu.name_uk) AS from_en,
               ARRAY(SELECT position FROM report_photo WHERE report_id = r.id ORDER BY position) AS photos
        FROM report r JOIN category c ON c.id = r.category_id
        JOIN report_event e ON e.id = %(event)s AND e.report_id = r.id
        LEFT JOIN unit fu ON fu.id = e.from_unit_id
        {village_join("r.hromada_id", "r.location")}
        WHERE r.id = %(id)s"""


def report_facts(conn: sa.Connection, report_id: int, event_id: int) -> Facts:
    """The report and the event that brought it to the unit (its routing or a transfer)."""
    row = direct_sql.first(conn, _FACTS_SQL, {"id": report_id, "event": event_id})
    if row is None:
        raise NotFound(f"Звернення {report_id} не знайдено", f"Report {report_id} not found")
    photos = tuple(row.photos)
    transferred = row.kind == "transfer"
    if transferred:
        why_uk = f"Передано з підрозділу «{row.from_uk or '—'}». Причина: {row.reason or '—'}"
        why_en = f"Transferred from “{row.from_en or '—'}”. Reason: {row.reason or '—'}"
    else:
        why_uk, why_en = row.routing_reason_uk, row.routing_reason_en
    return Facts(row.id, row.code, row.status, row.unit_id, row.category_uk, row.category_en,
                 row.description, row.lon, row.lat, row.village_uk, row.village_en, row.inside,
                 row.due_at, photos, why_uk, why_en, transferred)


def arrival_event(conn: sa.Connection, report_id: int, unit_id: int) -> int | None:
    """The latest event that brought the report to the unit (its routing or a transfer)."""
    return conn.execute(sa.text("""
        SELECT id FROM report_event WHERE report_id = :r AND kind IN ('created', 'transfer') AND to_unit_id = :u
        ORDER BY id DESC LIMIT 1"""), {"r": report_id, "u": unit_id}).scalar()


def kyiv_time(moment: dt.datetime) -> str:
    return moment.astimezone(KYIV).strftime("%d.%m.%Y %H:%M")


def map_link(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"


def staff_url(public_url: str, code: str) -> str:
    return f"{public_url}/staff/reports/{quote(code)}"


def photo_urls(public_url: str, facts: Facts) -> list[str]:
    """The public photo addresses, as the report's page links them (webmap/report_pages.py)."""
    return [f"{public_url}/reports/{quote(facts.code)}/photos/{p}.jpg" for p in facts.photos]


def place_text(facts: Facts, lang: str) -> str:
    village = facts.village_uk if lang == "uk" else facts.village_en
    coords = f"{facts.lat:.6f}, {facts.lon:.6f}"
    if not village:
        return coords
    if lang == "uk":
        return f"{village}, {coords}" if facts.in_village else f"поблизу: {village}, {coords}"
    return f"{village}, {coords}" if facts.in_village else f"near {village}, {coords}"


@dataclass(frozen=True)
class Link:
    """A unit's signed link and the day it stops working."""

    url: str
    until: dt.datetime


def signed_link(report_id: int, unit_id: int, public_url: str, secret: str | None) -> Link:
    token = make_link_token(secret or link_secret(), report_id, unit_id)
    return Link(link_url(public_url, token), dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=link_days()))


def _report_lines(facts: Facts, unit: Unit, public_url: str, link: Link | None, lang: str) -> list[str]:
    uk = lang == "uk"
    photos = photo_urls(public_url, facts)
    lines = [
        f"{'Звернення' if uk else 'Report'}: {facts.code}",
        f"{'Категорія' if uk else 'Category'}: {facts.category_uk if uk else facts.category_en}",
        f"{'Стан' if uk else 'Status'}: {getattr(STATUSES[facts.status], lang)}",
        f"{'Місце' if uk else 'Place'}: {place_text(facts, lang)}",
        f"{'Мапа' if uk else 'Map'}: {map_link(facts.lat, facts.lon)}",
        f"{'Опис' if uk else 'Description'}: {facts.description}",
    ]
    if photos:
        lines.append(f"{'Фото' if uk else 'Photos'}: " + " ".join(photos))
    lines += [
        f"{'Виконати до' if uk else 'Due'}: {kyiv_time(facts.due_at)} ({'за київським часом' if uk else 'Kyiv time'})",
        f"{'Чому вам' if uk else 'Why your unit'}: {facts.why_uk if uk else facts.why_en}",
    ]
    if link is not None:
        until = link.until.astimezone(KYIV).strftime("%d.%m.%Y")
        lines += [
            ("Діяти без облікового запису (підтвердити, додати коментар, позначити вирішеним або «не наше»): "
             if uk else "Act without an account (acknowledge, add a note, mark resolved or “not ours”): ") + link.url,
            (f"Посилання діє до {until} і лише для цього звернення; не пересилайте його."
             if uk else f"The link works until {until} and for this report only; do not forward it."),
        ]
    if unit.has_accounts:
        lines.append(f"{'Звернення в системі' if uk else 'The report in the system'}: "
                     f"{staff_url(public_url, facts.code)}")
    lines.append(f"{'Публічна сторінка' if uk else 'Public page'}: {readable_report_url(public_url, facts.code)}")
    return lines


def report_mail(facts: Facts, unit: Unit, public_url: str, link: Link | None) -> tuple[str, str]:
    """(subject, body) of the mail that tells a unit about one report: Ukrainian first, English second."""
    if facts.transferred:
        subject = (f"Вам передано звернення {facts.code}: {facts.category_uk} / "
                   f"Report {facts.code} transferred to you: {facts.category_en}")
        intro_uk = f"Підрозділу «{unit.name_uk}» передано звернення мешканця."
        intro_en = f"A resident's report has been transferred to “{unit.name_en}”."
    else:
        subject = f"Нове звернення {facts.code}: {facts.category_uk} / New report {facts.code}: {facts.category_en}"
        intro_uk = f"Підрозділу «{unit.name_uk}» надійшло звернення мешканця."
        intro_en = f"A resident's report has come to “{unit.name_en}”."
    body = "\n".join([intro_uk, "", *_report_lines(facts, unit, public_url, link, "uk"), "", "—", "",
                      intro_en, "", *_report_lines(facts, unit, public_url, link, "en"), "", SIGNATURE])
    return subject, body


# --- telling a unit --------------------------------------------------------------------------------


def tell_unit(conn: sa.Connection, report_id: int, *, public_url: str | None = None,
              secret: str | None = None) -> int | None:
    """Record that the report's latest routing or transfer must be told to the unit it went to, and for a
    unit on "every report at once" queue its mails. Returns the new notice's id; None when this event was
    already told (nothing is queued twice). Runs in the caller's transaction. (A new report records its
    notice in the statement that writes it: layers.reports.create_report.)"""
    event = conn.execute(sa.text("""
        SELECT id, to_unit_id FROM report_event
        WHERE report_id = :r AND kind IN ('created', 'transfer') ORDER BY id DESC LIMIT 1"""),
        {"r": report_id}).first()
    event_id, unit_id = event if event is not None else (None, None)
    if unit_id is None:
        return None
    unit = load_unit(conn, unit_id)
    if unit is None:
        return None
    notice_id = direct_sql.scalar(conn, """
        INSERT INTO unit_notice (unit_id, report_id, event_id, digested_at)
        VALUES (%(u)s, %(r)s, %(e)s, """ + NOTICE_DIGESTED_AT + """)
        ON CONFLICT (unit_id, event_id) DO NOTHING RETURNING id""",
        {"u": unit.id, "r": report_id, "e": event_id, "each": unit.notify_mode == "each"})
    if mails_now(unit, notice_id):
        mail_notice(conn, unit, notice_id, report_facts(conn, report_id, event_id), public_url=public_url,
                    secret=secret)
    return notice_id


# A new notice's digested_at (``%(each)s``: the unit is on "every report at once"): an 'each' notice is
# dealt with there and then, and marking it keeps it out of a digest should the unit switch to one later.
# A digest notice waits for queue_digests.
NOTICE_DIGESTED_AT = "CASE WHEN %(each)s THEN now() END"


def mails_now(unit: Unit | None, notice_id: int | None) -> bool:
    """Whether a notice just recorded (None: the event was already told) is mailed now."""
    if unit is None or notice_id is None or unit.notify_mode != "each":
        return False
    if not unit.emails:
        log.info("unit %s has no e-mail address: notice %s is not mailed", unit.code, notice_id)
        return False
    return True


def mail_notice(conn: sa.Connection, unit: Unit, notice_id: int, facts: Facts, *, public_url: str | None = None,
                secret: str | None = None) -> None:
    """Queue the mails of a notice to each of the unit's addresses (once: the outbox key is the notice's)."""
    base = configured_public_url(public_url)
    link = None if unit.has_accounts else signed_link(facts.report_id, unit.id, base, secret)
    subject, body = report_mail(facts, unit, base, link)
    for n, address in enumerate(unit.emails):
        outbox.enqueue(conn, to_addr=address, subject=subject, body=body, report_id=facts.report_id,
                       key=f"unit-notice-{notice_id}-{n}")


def tell_unit_reopened(conn: sa.Connection, report_id: int, event_id: int, comment: str | None, *,
                       public_url: str | None = None, secret: str | None = None) -> None:
    """The unit holding a report is told at once that its reporter says it is still not fixed (the
    report is reopened): whatever the unit's digest setting, as it needs acting on."""
    row = conn.execute(sa.text("SELECT code, unit_id FROM report WHERE id = :id"), {"id": report_id}).one()
    unit = load_unit(conn, row.unit_id)
    if unit is None or not unit.emails:
        return
    base = configured_public_url(public_url)
    link = None if unit.has_accounts else signed_link(report_id, unit.id, base, secret)
    where = link.url if link else staff_url(base, row.code)
    said_uk = f"Коментар мешканця: {comment}" if comment else "Мешканець коментаря не залишив."
    said_en = f"The resident's comment: {comment}" if comment else "The resident left no comment."
    body = "\n".join([
        f"Мешканець повідомив, що проблему за зверненням {row.code} досі не виправлено. Звернення відкрито знову.",
        said_uk, f"Звернення: {where}", "", "—", "",
        f"The resident says the problem of report {row.code} is still not fixed. The report is reopened.",
        said_en, f"The report: {where}", "", "Громада ГІС / Hromada GIS"])
    subject = f"Звернення {row.code} відкрито знову: не виправлено / Report {row.code} reopened: not fixed"
    for n, address in enumerate(unit.emails):
        outbox.enqueue(conn, to_addr=address, subject=subject, body=body, report_id=report_id,
                       key=f"unit-reopened-{event_id}-{n}")


# --- daily digests ---------------------------------------------------------------------------------


def digest_day(now: dt.datetime, hour: int | None = None) -> tuple[dt.date, dt.datetime]:
    """The Kyiv day whose digest is due at ``now`` and its cut-off (that day at the digest hour)."""
    hour = digest_hour() if hour is None else hour
    local = now.astimezone(KYIV)
    day = local.date() if local.hour >= hour else local.date() - dt.timedelta(days=1)
    return day, dt.datetime.combine(day, dt.time(hour), KYIV)


def _digest_key(unit_id: int, day: dt.date, n: int) -> str:
    return f"unit-{unit_id}-digest-{day.isoformat()}-{n}"


def queue_digests(conn: sa.Connection, now: dt.datetime, public_url: str | None = None, *,
                  secret: str | None = None, hour: int | None = None) -> int:
    """Queue one mail per 'digest' unit and Kyiv day listing the reports it was given before that day's
    digest hour and has not been told of; the number of units mailed. Safe to run as often as wanted
    (the worker runs it every minute): a unit's digest of a day is queued once (outbox key per unit and
    day); what arrives after it waits for the next day's. Runs in the caller's transaction."""
    day, cutoff = digest_day(now, hour)
    units = [u for u, in conn.execute(sa.text("""
        SELECT u.id FROM unit u
        WHERE u.notify_mode = 'digest' AND cardinality(u.emails) > 0
          AND EXISTS (SELECT 1 FROM unit_notice n
                      WHERE n.unit_id = u.id AND n.digested_at IS NULL AND n.created_at < :cutoff)
        ORDER BY u.id"""), {"cutoff": cutoff})]
    mailed = 0
    base = None
    for unit_id in units:
        # Two runs at once (two workers): the second waits here, then sees the first one's mail.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:cls, :unit)"), {"cls": DIGEST_LOCK, "unit": unit_id})
        already = conn.execute(sa.text("SELECT 1 FROM outbox WHERE message_id = :mid"),
                               {"mid": f"<{_digest_key(unit_id, day, 0)}@{outbox.MAIL_DOMAIN}>"}).first()
        if already is not None:
            continue  # today's digest is out; whatever came late goes in tomorrow's
        notices = conn.execute(sa.text("""
            SELECT id, report_id, event_id FROM unit_notice
            WHERE unit_id = :u AND digested_at IS NULL AND created_at < :cutoff
            ORDER BY created_at, id"""), {"u": unit_id, "cutoff": cutoff}).all()
        unit = load_unit(conn, unit_id)
        if not notices or unit is None or not unit.emails:
            continue
        base = base or configured_public_url(public_url)
        subject, body = digest_mail(conn, unit, day, notices, base, secret)
        for n, address in enumerate(unit.emails):
            outbox.enqueue(conn, to_addr=address, subject=subject, body=body, key=_digest_key(unit_id, day, n))
        conn.execute(sa.text("UPDATE unit_notice SET digested_at = now() WHERE id = ANY(:ids)"),
                     {"ids": [n.id for n in notices]})
        mailed += 1
    return mailed


def digest_mail(conn: sa.Connection, unit: Unit, day: dt.date, notices, public_url: str,
                secret: str | None) -> tuple[str, str]:
    """(subject, body) of a unit's digest: every report in it, shortly, Ukrainian first, English second."""
    items = []
    for notice in notices:
        facts = report_facts(conn, notice.report_id, notice.event_id)
        still_here = facts.unit_id == unit.id
        link = (signed_link(facts.report_id, unit.id, public_url, secret)
                if not unit.has_accounts and still_here and STATUSES[facts.status].is_open else None)
        items.append((facts, still_here, link))
    when = day.strftime("%d.%m.%Y")
    count = len(items)
    subject = f"Звернення за день {when}: {count} / Daily digest {day.isoformat()}: {count} report(s)"
    parts = []
    for lang in ("uk", "en"):
        uk = lang == "uk"
        parts.append(f"Підрозділ «{unit.name_uk}»: нові звернення — {count}." if uk
                     else f"“{unit.name_en}”: new reports — {count}.")
        for number, (facts, still_here, link) in enumerate(items, start=1):
            description = facts.description
            if len(description) > DESCRIPTION_IN_DIGEST:
                description = description[:DESCRIPTION_IN_DIGEST].rstrip() + "…"
            short = Facts(**{**facts.__dict__, "description": description})
            parts += ["", f"{number}.", *_report_lines(short, unit, public_url, link, lang)]
            if not still_here:
                parts.append("(Звернення вже передано іншому підрозділу.)" if uk
                             else "(The report has since gone to another unit.)")
        parts += ["", "—", ""]
    parts[-1] = SIGNATURE
    return subject, "\n".join(parts)


def digest_job(public_url: str | None = None, secret: str | None = None):
    """For the outbox worker's loop (gis.outbox.run_worker ``periodic``): queue what digests are due."""
    def job(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            mailed = queue_digests(conn, dt.datetime.now(dt.timezone.utc), public_url, secret=secret)
        if mailed:
            log.info("queued the daily digest of %s unit(s)", mailed)
    return job
