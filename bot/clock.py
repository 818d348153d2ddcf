"""The one source of time. Code asks a clock; tests hand in a clock they move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: tests never sleep for real time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def next_daily(after: datetime, at: time) -> datetime:
    """The first time of day ``at`` in China strictly after ``after``."""
    local = after.astimezone(CHINA)
    today = datetime.combine(local.date(), at, tzinfo=CHINA)
    return today if today > local else today + timedelta(days=1)
