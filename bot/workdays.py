"""Working days on China's official calendar: public holidays off, make-up days (调休) on.

``chinese-calendar`` carries the State Council's schedule year by year; for a year it does not
know yet, weekends are the only days off, and the gap is logged once. Days the operator
declares (``NUANXIN_CALENDAR_FILE``) win over both, and a year they declare days of is known.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache

import chinese_calendar

from bot.clock import CHINA

log = logging.getLogger(__name__)


@cache
def _warn_unknown(year: int) -> None:
    log.warning("no official holiday calendar for %s; counting weekends only", year)


def is_working_day(day: date, declared: Mapping[date, bool]) -> bool:
    if day in declared:
        return declared[day]
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if not any(known.year == day.year for known in declared):
            _warn_unknown(day.year)
        return day.weekday() < 5


def add_working_days(start: datetime, days: int, declared: Mapping[date, bool]) -> datetime:
    """The same time of day ``days`` working days later, in China's time; a start on a day
    off counts from the next working day. ``declared``: the operator's own days."""
    local = start.astimezone(CHINA)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, declared):
            remaining -= 1
    return datetime.combine(day, local.timetz())
