"""Runs the timers that fell due, each in its own transaction with its effect.

The scheduler only decides when to call :func:`run_due`; what happens is decided here, from
the database, so a timer that fell due while the bot was down is handled at the next start by
the rule of its kind (see README), and a timer is never handled twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import DEFAULT_LANG, Catalog
from handlers import activities, broadcast, deadlines, digest, housekeeping, quiet
from handlers.context import Context
from storage import timers
from storage.db import Database
from storage.timers import Timer
from storage.users import User

log = logging.getLogger(__name__)

SYSTEM = User(id="system:scheduler", lang=DEFAULT_LANG)

Handler = Callable[[Context, Timer], Awaitable[str]]


async def _push(ctx: Context, timer: Timer) -> str:
    return await quiet.release(ctx, timer.payload)


async def _deadline(ctx: Context, timer: Timer) -> str:
    return await deadlines.expire(ctx, timer.payload)


async def _warning(ctx: Context, timer: Timer) -> str:
    if ctx.now >= timer.due_at + ctx.settings.deadline_warning:
        return "skipped_late"
    return await deadlines.warn(ctx, timer.payload)


async def _digest(ctx: Context, timer: Timer) -> str:
    return await digest.send(ctx, timer.due_at)


async def _fan_out(ctx: Context, timer: Timer) -> str:
    return await broadcast.queue_chunk(
        ctx, int(timer.payload["id"]), str(timer.payload.get("after", ""))
    )


async def _sweep(ctx: Context, _: Timer) -> str:
    return await housekeeping.sweep(ctx)


async def _invite(ctx: Context, timer: Timer) -> str:
    return await activities.invite_due(ctx, timer.payload)


async def _remind(ctx: Context, timer: Timer) -> str:
    return await activities.remind_due(ctx, timer.payload)


HANDLERS: dict[str, Handler] = {
    quiet.HELD: _push,
    deadlines.DEADLINE: _deadline,
    deadlines.WARNING: _warning,
    digest.DIGEST: _digest,
    activities.INVITE: _invite,
    activities.REMIND: _remind,
    housekeeping.HOUSEKEEPING: _sweep,
    broadcast.FAN_OUT: _fan_out,
}


class TimerRunner:
    def __init__(self, db: Database, settings: Settings, clock: Clock, catalog: Catalog) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._catalog = catalog

    def _context(self, tx: object, now: datetime) -> Context:
        return Context(
            tx=tx,  # type: ignore[arg-type]
            user=SYSTEM,
            now=now,
            settings=self._settings,
            catalog=self._catalog,
            is_admin=True,
            bulk=True,
        )

    async def prepare(self) -> None:
        """At start: make sure the recurring timers exist."""
        async with self._db.transaction() as tx:
            ctx = self._context(tx, self._clock.now())
            await digest.ensure(ctx)
            await housekeeping.ensure(ctx)

    async def run_due(self, before_each: Callable[[], Awaitable[None]]) -> int:
        """Handles every timer due by now; returns how many. Each waits for ``before_each``
        first: timers are the bot's own work (a broadcast's next chunk, a digest), and a
        rider's answer on its way goes before them."""
        handled = 0
        while True:
            async with self._db.transaction() as tx:
                batch = await timers.due(tx, self._clock.now())
            if not batch:
                return handled
            for timer in batch:
                await before_each()
                await self._run_one(timer)
                handled += 1

    async def _run_one(self, timer: Timer) -> None:
        try:
            async with self._db.transaction() as tx:
                ctx = self._context(tx, self._clock.now())
                if not await timers.finish(tx, timer.id, ctx.now, "running"):
                    return
                outcome = await HANDLERS[timer.kind](ctx, timer)
                await timers.finish_outcome(tx, timer.id, outcome)
        except Exception:
            log.exception("timer %s (%s) failed; it is marked failed", timer.key, timer.kind)
            async with self._db.transaction() as tx:
                await timers.finish(tx, timer.id, self._clock.now(), "failed")

    async def wake_times(self, limit: int = 1) -> list[datetime]:
        async with self._db.transaction() as tx:
            return await timers.pending_times(tx, limit)
