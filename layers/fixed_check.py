""""Is it fixed?" — some weeks after a report is resolved, its reporter is asked once.

The time is the category's (``category.ask_fixed_after_days``, 28 days unless the catalogue says
otherwise). The mail goes only to a reporter whose address is confirmed and has not stopped mail
(layers.followers). It carries one signed link, good for one answer to this asking:
- "fixed": recorded in the history (and counted on the dashboard);
- "still not fixed": recorded as the resident's act with their comment and photos, the report is
  reopened, its unit is told by mail and its followers as of any change.

``ask_job`` runs in the outbox worker's loop; ``fixed_asked_at`` makes every report asked once per
resolution (a reopened and again resolved report is asked again, with a new link).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from gis.errors import HromadaError, InvalidInput
from gis.models import report, report_event, report_photo
from gis.photos import Photo
from layers import followers, reports, unit_mail
from layers.report_states import readable_report_url

log = logging.getLogger(__name__)
SALT = "is-it-fixed"


class AlreadyAnswered(HromadaError):
    http_status = 410
    code = "already_answered"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(unit_mail.link_secret(), salt=SALT)


def make_token(report_id: int, asked_at: dt.datetime) -> str:
    return _serializer().dumps([report_id, asked_at.isoformat()])


def read_token(token: str) -> tuple[int, str]:
    try:
        report_id, asked = _serializer().loads(token)
        return int(report_id), str(asked)
    except (BadSignature, ValueError, TypeError):
        raise InvalidInput("Посилання пошкоджене або не наше: скопіюйте його з листа повністю",
                           "The link is damaged or not ours: copy it from the mail in full") from None


def answer_url(public_url: str, code: str, token: str) -> str:
    return f"{readable_report_url(public_url, code)}/fixed/{token}"


def ask_due(conn: sa.Connection, *, public_url: str | None = None, limit: int = 500) -> int:
    """Ask every reporter whose report's time has come (once). Returns how many were asked."""
    base = unit_mail.configured_public_url(public_url)
    due = conn.execute(sa.text("""
        SELECT r.id, r.code, r.reporter_email, c.name_uk, c.name_en
        FROM report r JOIN category c ON c.id = r.category_id
        JOIN mail_address a ON a.email = lower(r.reporter_email)
        WHERE r.status = 'resolved' AND r.fixed_asked_at IS NULL AND r.reporter_email IS NOT NULL
          AND r.closed_at <= now() - make_interval(days => c.ask_fixed_after_days)
          AND a.confirmed_at IS NOT NULL AND a.stopped_at IS NULL
        ORDER BY r.closed_at LIMIT :limit FOR UPDATE OF r SKIP LOCKED"""), {"limit": limit}).all()
    for row in due:
        asked_at = conn.execute(report.update().where(report.c.id == row.id).values(
            fixed_asked_at=sa.func.now(), fixed_answered_at=None).returning(report.c.fixed_asked_at)).scalar_one()
        link = answer_url(base, row.code, make_token(row.id, asked_at))
        page = readable_report_url(base, row.code)
        subscriber_id, _ = followers.subscribe(conn, row.id, row.reporter_email, is_reporter=True)
        followers.enqueue_report_mail(
            conn, row.id, subscriber_id, row.reporter_email,
            f"Чи виправлено? Звернення {row.code} / Is it fixed? Report {row.code}",
            [f"Кілька тижнів тому ваше звернення {row.code} ({row.name_uk}) позначили вирішеним.",
             f"Чи справді проблему виправлено? Дайте відповідь тут: {link}",
             "Якщо ні, звернення відкриють знову, і підрозділ про це дізнається.",
             f"Сторінка звернення: {page}"],
            [f"Some weeks ago your report {row.code} ({row.name_en}) was marked resolved.",
             f"Is the problem really fixed? Answer here: {link}",
             "If not, the report is reopened and its unit is told.", f"The report's page: {page}"],
            key=f"report-{row.id}-fixed-asked-{int(asked_at.timestamp() * 1e6)}", public_url=base)
    return len(due)


def ask_job(public_url: str | None = None):
    """For the outbox worker's loop (gis.outbox.run_worker ``periodic``)."""
    def job(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            asked = ask_due(conn, public_url=public_url)
        if asked:
            log.info('asked %s reporter(s) "is it fixed?"', asked)
    return job


def question(conn: sa.Connection, code: str, token: str) -> sa.Row:
    """The report a link asks about, if the link is this report's current one and still unused."""
    report_id, asked = read_token(token)
    row = conn.execute(sa.text("""
        SELECT id, code, status, fixed_asked_at, fixed_answered_at, unit_id FROM report
        WHERE id = :id AND code = :code FOR UPDATE"""), {"id": report_id, "code": code}).first()
    if row is None or row.fixed_asked_at is None or row.fixed_asked_at.isoformat() != asked:
        raise InvalidInput("Це посилання вже не діє: звернення відтоді змінилося",
                           "This link no longer works: the report has changed since")
    if row.fixed_answered_at is not None:
        raise AlreadyAnswered("На це запитання вже відповіли — дякуємо",
                              "This question was already answered — thank you")
    return row


def answer(conn: sa.Connection, code: str, token: str, *, fixed: bool, comment: str | None = None,
           photos: tuple[Photo, ...] = (), public_url: str | None = None) -> str:
    """Record the reporter's answer (once). Returns the report's status after it."""
    row = question(conn, code, token)
    comment = (comment or "").strip() or None
    if comment and len(comment) > 2000:
        raise InvalidInput("Коментар задовгий (понад 2000 знаків)", "The comment is too long (over 2000 characters)")
    conn.execute(report.update().where(report.c.id == row.id).values(fixed_answered_at=sa.func.now()))
    if fixed:
        conn.execute(report_event.insert().values(report_id=row.id, kind="fixed_yes"))
        return row.status
    last = conn.execute(sa.text("SELECT COALESCE(max(position), 0) FROM report_photo WHERE report_id = :id"),
                        {"id": row.id}).scalar()
    for position, photo in enumerate(photos, start=last + 1):
        conn.execute(report_photo.insert().values(report_id=row.id, position=position, width=photo.width,
                                                  height=photo.height, data=photo.jpeg, thumb=photo.thumb))
    conn.execute(report_event.insert().values(report_id=row.id, kind="fixed_no", public_note=comment))
    reports.reopen_by_resident(conn, row.id, comment, public_url=unit_mail.configured_public_url(public_url))
    return "reopened"
