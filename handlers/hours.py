"""Opening hours: what a station file says, whether a station is open now, how to show it.

Accepted forms: ``24h`` (or ``24小时``); ``08:00-22:00`` every day; spans per weekday such as
``mon-fri 08:00-20:00; sat,sun 10:00-18:00`` (or ``周一-周五``); several spans a day separated
by commas; a span past midnight such as ``20:00-02:00``, which belongs to the day it starts.
Stored as weekday → [start, end] in minutes, where an end past 1440 runs into the next day.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.clock import CHINA
from bot.i18n import Refusal

Hours = dict[int, list[tuple[int, int]]]
ALWAYS: Hours = {day: [(0, 1440)] for day in range(7)}
DAY_NAMES = {
    **{name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: n for n, name in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))},
    "周天": 6,
}
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class HoursError(Refusal):
    """Opening hours written in a way we cannot read."""


def parse_hours(raw: str) -> Hours:
    text = raw.strip().lower().replace("：", ":").replace("，", ",").replace("；", ";")
    if text in ("24h", "24小时", "24/7", "全天"):
        return dict(ALWAYS)
    if not text:
        raise HoursError("hours.none")
    hours: Hours = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        days, spans = _days_and_spans(part)
        for day in days:
            hours.setdefault(day, []).extend(spans)
    return {day: sorted(spans) for day, spans in hours.items()}


def _days_and_spans(part: str) -> tuple[list[int], list[tuple[int, int]]]:
    head, _, rest = part.partition(" ")
    if rest and not head[0].isdigit():
        return _days(head), _spans(rest)
    return list(range(7)), _spans(part)


def _days(text: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise HoursError("hours.unknown_day", day=item)
        start, end = DAY_NAMES[first], DAY_NAMES[last or first]
        days += [d % 7 for d in range(start, end + (7 if end < start else 0) + 1)]
    return days


def _spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for item in text.replace(" ", "").split(","):
        match = _SPAN.match(item)
        if not match:
            raise HoursError("hours.unreadable_span", span=item)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise HoursError("hours.no_such_time", span=item)
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            end += 1440
        spans.append((start, end))
    return spans


def is_open(hours: Hours, moment: datetime) -> bool:
    local = moment.astimezone(CHINA)
    minute = local.hour * 60 + local.minute
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    return any(start <= minute < end for start, end in hours.get(today, ())) or any(
        start <= minute + 1440 < end for start, end in hours.get(yesterday, ())
    )


def is_always(hours: Hours) -> bool:
    return all(hours.get(day) == [(0, 1440)] for day in range(7))


def today_text(hours: Hours, moment: datetime) -> str:
    """Today's spans as ``08:00-22:00``; ``24h``; or an empty string on a day off."""
    if is_always(hours):
        return "24h"
    spans = hours.get(moment.astimezone(CHINA).weekday(), [])
    return ",".join(f"{_clock(start)}-{_clock(end)}" for start, end in spans)


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def to_json(hours: Hours) -> dict[str, list[list[int]]]:
    return {str(day): [list(span) for span in spans] for day, spans in hours.items()}


def from_json(data: dict[str, list[list[int]]]) -> Hours:
    return {int(day): [(s[0], s[1]) for s in spans] for day, spans in data.items()}
