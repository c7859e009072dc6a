"""Working days in Kyiv: weekends, Ukraine's public holidays and a hromada's own days off.

Public holidays come from the maintained ``holidays`` package. It follows the law as it stands: under
martial law (since 24 February 2022) Article 73 of the Labour Code's days off are suspended, so the
package names no public holiday as a day off for those years — a deadline then skips weekends and the
hromada's own days off (``hromada_day_off``) only, and the holidays count again once the law says so.

A target of N working days from a report made on day D is due at the end of the N-th working day
after D (Kyiv time): made on Friday with 1 working day, it is due on Monday evening.
"""
from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa

from gis.models import hromada_day_off

KYIV = ZoneInfo("Europe/Kyiv")


@functools.lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.Ukraine(years=year, categories=(holidays.PUBLIC,)))


def days_off(conn: sa.Connection, hromada_id: int) -> frozenset[dt.date]:
    """The hromada's own non-working days."""
    return frozenset(conn.execute(sa.select(hromada_day_off.c.day).where(
        hromada_day_off.c.hromada_id == hromada_id)).scalars())


def is_working_day(day: dt.date, own_days_off: frozenset[dt.date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(day.year) and day not in own_days_off


def add_working_days(start: dt.date, n: int, own_days_off: frozenset[dt.date] = frozenset()) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted); ``start`` when n is 0."""
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, own_days_off):
            n -= 1
    return day


def previous_working_day(day: dt.date, own_days_off: frozenset[dt.date] = frozenset()) -> dt.date:
    day -= dt.timedelta(days=1)
    while not is_working_day(day, own_days_off):
        day -= dt.timedelta(days=1)
    return day


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of the Kyiv day, as an aware datetime."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=KYIV)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=KYIV)


def due_at(conn: sa.Connection, hromada_id: int, made_at: dt.datetime, target_days: int) -> dt.datetime:
    """When a report made at ``made_at`` with a target of ``target_days`` working days is due."""
    return due_at_given(made_at, target_days, days_off(conn, hromada_id))


def due_at_given(made_at: dt.datetime, target_days: int, own_days_off: frozenset[dt.date]) -> dt.datetime:
    """:func:`due_at` with the hromada's days off already read."""
    return end_of_day(add_working_days(made_at.astimezone(KYIV).date(), target_days, own_days_off))
