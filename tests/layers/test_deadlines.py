"""Deadlines in working days (gis.working_days) and their reminder and escalation (layers.deadlines)."""
import datetime as dt

import sqlalchemy as sa

from gis import working_days
from gis.working_days import add_working_days, end_of_day
from layers import deadlines, reports
from tests.helpers import asset_point, demo_hromada_id, scalar
from tests.layers.test_reports import ADMIN, new_report
from tests.webmap.test_reports_http import add_staff

D = dt.date


def test_working_days_skip_weekends_holidays_and_the_hromadas_own_days_off():
    # 2021, before martial law: Constitution Day (Mon 28 June) was a day off.
    assert add_working_days(D(2021, 6, 24), 1) == D(2021, 6, 25)  # Thursday → Friday
    assert add_working_days(D(2021, 6, 25), 1) == D(2021, 6, 29)  # Friday → over the weekend and the holiday
    assert add_working_days(D(2021, 6, 25), 1, frozenset({D(2021, 6, 29)})) == D(2021, 6, 30)  # a local day off
    assert add_working_days(D(2021, 8, 20), 1) == D(2021, 8, 25)  # a substituted day off (23 Aug) too
    assert add_working_days(D(2021, 6, 25), 0) == D(2021, 6, 25)
    # Under martial law the Labour Code's holidays are not days off: New Year 2026 is a working Thursday.
    assert add_working_days(D(2025, 12, 31), 1) == D(2026, 1, 1)
    assert working_days.previous_working_day(D(2021, 6, 29)) == D(2021, 6, 25)


def test_a_reports_due_date_counts_working_days_in_kyiv(demo_db):
    hromada = demo_hromada_id(demo_db)
    with demo_db.connect() as conn:
        made = conn.execute(sa.text("SELECT now()")).scalar()
    today = made.astimezone(working_days.KYIV).date()
    next_working = add_working_days(today, 1)
    with demo_db.begin() as conn:  # the hromada closes its offices on the next working day
        conn.execute(sa.text("INSERT INTO hromada_day_off (hromada_id, day, note) VALUES (:h, :d, 'день громади')"),
                     {"h": hromada, "d": next_working})
    code = new_report(demo_db)["code"]  # a street lamp: 5 working days
    due = scalar(demo_db, "SELECT due_at FROM report WHERE code = :c", c=code)
    assert due == end_of_day(add_working_days(today, 5, frozenset({next_working})))
    assert due.astimezone(working_days.KYIV).time() == dt.time(23, 59, 59)


def test_reminder_before_the_due_day_and_escalation_after_it_each_once(demo_db):
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    add_staff(demo_db, "admin2@example.org", roles=("admin",))
    code = new_report(demo_db)["code"]
    with demo_db.connect() as conn:
        now = conn.execute(sa.text("SELECT now()")).scalar()
    today = now.astimezone(working_days.KYIV).date()
    due_day = add_working_days(today, 3)

    def set_due(day):
        with demo_db.begin() as conn:
            conn.execute(sa.text("UPDATE report SET due_at = :d WHERE code = :c"), {"d": end_of_day(day), "c": code})

    def run(fn, at):
        with demo_db.begin() as conn:
            return fn(conn, at, public_url="http://localhost")

    set_due(due_day)
    assert run(deadlines.remind, now) == 0  # three working days ahead: not yet
    on_the_day_before = working_days.start_of_day(working_days.previous_working_day(due_day)) + dt.timedelta(hours=9)
    assert run(deadlines.remind, on_the_day_before) == 1
    assert run(deadlines.remind, on_the_day_before + dt.timedelta(hours=1)) == 0  # once
    reminders = scalar(demo_db, "SELECT array_agg(to_addr) FROM outbox WHERE message_id LIKE '<report-%-reminder-%'")
    assert reminders == ["kp-blagoustrij@yakushynetska-demo.example.org"]

    assert run(deadlines.escalate, end_of_day(due_day) - dt.timedelta(minutes=1)) == 0  # still in time
    assert run(deadlines.escalate, end_of_day(due_day) + dt.timedelta(minutes=1)) == 1
    assert run(deadlines.escalate, end_of_day(due_day) + dt.timedelta(days=2)) == 0  # once
    told = scalar(demo_db, "SELECT array_agg(to_addr ORDER BY to_addr) FROM outbox "
                           "WHERE message_id LIKE '<report-%-overdue-admin-%'")
    assert told == ["admin2@example.org", "admin@example.org"]
    # A closed report is neither reminded nor escalated.
    closed = new_report(demo_db, where=asset_point(demo_db, "street_lamp", "302"))["code"]
    with demo_db.begin() as conn:
        reports.change_status(conn, closed, "resolved", ADMIN, public_url="http://localhost")
        conn.execute(sa.text("UPDATE report SET due_at = now() - interval '3 days' WHERE code = :c"), {"c": closed})
    assert run(deadlines.escalate, now) == 0 and run(deadlines.remind, now) == 0
