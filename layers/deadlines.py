"""Deadlines that work: a reminder to the unit before an open report is due, and escalation to the
hromada's administrators once it is overdue — each once per report.

Due dates are in working days (gis.working_days). The reminder goes from the start of the last working
day before the due day (Kyiv time) to the unit's addresses; the escalation, after the due moment, to
every active administrator of the hromada. ``report.reminded_at`` and ``escalated_at`` (set in the
transaction that queues the mail, with keyed outbox messages) make each happen once, however often
the job runs. ``job`` runs in the outbox worker's loop.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from gis import outbox, working_days
from gis.models import report
from layers import unit_mail
from layers.report_states import OPEN_STATUSES

log = logging.getLogger(__name__)
LOOK_AHEAD = dt.timedelta(days=10)  # no report is reminded more than this before it is due


def _kyiv(moment: dt.datetime) -> str:
    return unit_mail.kyiv_time(moment)


def remind(conn: sa.Connection, now: dt.datetime, *, public_url: str | None = None) -> int:
    """Remind the units of open reports due after the current working day. Returns how many."""
    base = unit_mail.configured_public_url(public_url)
    rows = conn.execute(sa.text("""
        SELECT r.id, r.code, r.hromada_id, r.unit_id, r.due_at, r.description, c.name_uk, c.name_en
        FROM report r JOIN category c ON c.id = r.category_id
        WHERE r.status = ANY(:open) AND r.reminded_at IS NULL AND r.due_at > :now AND r.due_at <= :ahead
        ORDER BY r.due_at FOR UPDATE OF r SKIP LOCKED"""),
        {"open": list(OPEN_STATUSES), "now": now, "ahead": now + LOOK_AHEAD}).all()
    reminded = 0
    days_off: dict[int, frozenset] = {}
    for row in rows:
        own = days_off.setdefault(row.hromada_id, working_days.days_off(conn, row.hromada_id))
        due_day = row.due_at.astimezone(working_days.KYIV).date()
        if now < working_days.start_of_day(working_days.previous_working_day(due_day, own)):
            continue  # not yet
        conn.execute(report.update().where(report.c.id == row.id).values(reminded_at=now))
        unit = unit_mail.load_unit(conn, row.unit_id)
        reminded += 1
        if unit is None or not unit.emails:
            continue
        where = (unit_mail.staff_url(base, row.code) if unit.has_accounts
                 else unit_mail.signed_link(row.id, unit.id, base, None).url)
        body = "\n".join([
            f"Нагадування: звернення {row.code} ({row.name_uk}) треба виконати до {_kyiv(row.due_at)} (за Києвом).",
            f"Звернення: {where}", "", "—", "",
            f"Reminder: report {row.code} ({row.name_en}) is due by {_kyiv(row.due_at)} (Kyiv time).",
            f"The report: {where}", "", "Громада ГІС / Hromada GIS"])
        subject = f"Нагадування: {row.code} до {_kyiv(row.due_at)} / Reminder: {row.code} due"
        for n, address in enumerate(unit.emails):
            outbox.enqueue(conn, to_addr=address, subject=subject, body=body, report_id=row.id,
                           key=f"report-{row.id}-reminder-{n}")
    return reminded


def escalate(conn: sa.Connection, now: dt.datetime, *, public_url: str | None = None) -> int:
    """Tell the hromada's administrators of open reports past their due moment. Returns how many."""
    base = unit_mail.configured_public_url(public_url)
    rows = conn.execute(sa.text("""
        SELECT r.id, r.code, r.hromada_id, r.due_at, c.name_uk, c.name_en, u.name_uk AS unit_uk,
               COALESCE(u.name_en, u.name_uk) AS unit_en
        FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
        WHERE r.status = ANY(:open) AND r.escalated_at IS NULL AND r.due_at <= :now
        ORDER BY r.due_at FOR UPDATE OF r SKIP LOCKED"""), {"open": list(OPEN_STATUSES), "now": now}).all()
    for row in rows:
        conn.execute(report.update().where(report.c.id == row.id).values(escalated_at=now))
        admins = conn.execute(sa.text("""
            SELECT DISTINCT u.id, u.email FROM app_user u JOIN role_grant g ON g.user_id = u.id
            WHERE g.hromada_id = :h AND g.role = 'admin' AND u.is_active ORDER BY u.id"""),
            {"h": row.hromada_id}).all()
        link = unit_mail.staff_url(base, row.code)
        body = "\n".join([
            f"Звернення {row.code} ({row.name_uk}) прострочене: термін минув {_kyiv(row.due_at)} (за Києвом).",
            f"Відповідальний підрозділ: {row.unit_uk}.", f"Звернення: {link}", "", "—", "",
            f"Report {row.code} ({row.name_en}) is overdue: it was due {_kyiv(row.due_at)} (Kyiv time).",
            f"Responsible unit: {row.unit_en}.", f"The report: {link}", "", "Громада ГІС / Hromada GIS"])
        for admin in admins:
            outbox.enqueue(conn, to_addr=admin.email, subject=f"Прострочено: {row.code} / Overdue: {row.code}",
                           body=body, report_id=row.id, key=f"report-{row.id}-overdue-admin-{admin.id}")
    return len(rows)


def job(public_url: str | None = None):
    """For the outbox worker's loop (gis.outbox.run_worker ``periodic``)."""
    def run(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            now = conn.execute(sa.text("SELECT now()")).scalar_one()
            reminded = remind(conn, now, public_url=public_url)
            escalated = escalate(conn, now, public_url=public_url)
        if reminded or escalated:
            log.info("deadlines: %s reminder(s), %s escalation(s)", reminded, escalated)
    return run
