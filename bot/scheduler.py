"""APScheduler as the alarm clock; the database as the diary.

One job at a time is planned: at the soonest pending timer. When it fires, everything due is
handled (:meth:`App.run_due`) and the next job is planned from what the database then holds.
A timer added by an event that falls due sooner moves the job earlier. At start the first
run catches up on whatever fell due while the bot was down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.clock import CHINA

log = logging.getLogger(__name__)
JOB = "nuanxin-timers"


class Scheduler:
    def __init__(self, app: App, after_run: Callable[[], None] = lambda: None) -> None:
        self._app = app
        self._after_run = after_run
        self._aps = AsyncIOScheduler(timezone=CHINA)
        self._planned: datetime | None = None

    async def start(self) -> None:
        self._aps.start()
        self._app.on_wake = self.wake_at
        await self.fire()

    def stop(self) -> None:
        self._app.on_wake = None
        if self._aps.running:
            self._aps.shutdown(wait=False)

    @property
    def planned(self) -> datetime | None:
        """When the job will next run."""
        return self._planned

    @property
    def alarm(self) -> datetime | None:
        """When, on the system's clock, the job will ring."""
        job = self._aps.get_job(JOB)
        return job.next_run_time if job else None

    def wake_at(self, times: Sequence[datetime]) -> None:
        if times and (self._planned is None or min(times) < self._planned):
            self._plan(min(times))

    async def fire(self) -> None:
        """Handles what is due, and plans the next ring; goes round again at once while a
        timer is already due (one that fell due while this ran), since a ring planned for a
        moment inside this run would be skipped: one job never runs twice at once."""
        while True:
            handled = await self._app.run_due()
            if handled:
                log.info("handled %s timers", handled)
                self._after_run()
            upcoming = await self._app.timers.wake_times(limit=1)
            self._planned = None
            if not upcoming:
                return
            if upcoming[0] > self._app.clock.now():
                self._plan(upcoming[0])
                return

    def _plan(self, when: datetime) -> None:
        """Due times are on the app's clock; APScheduler's alarm rings on the system's. The job
        is planned after the same delay, so a clock set elsewhere (a test's, a replay's) never
        makes the alarm ring again and again for a time that has not come."""
        self._planned = when
        delay = max(when - self._app.clock.now(), timedelta(0))
        self._aps.add_job(
            self.fire,
            "date",
            run_date=datetime.now(UTC) + delay,
            id=JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
