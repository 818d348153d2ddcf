"""The one factory that builds the bot core; transports and tests both start here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.events import Event, Handled, Outgoing, Reply
from bot.group_commit import GroupCommit
from bot.health import HealthCheck
from bot.hush import Hush
from bot.i18n import Catalog, catalog
from bot.interpreter import hand_over_quickly
from bot.memory import keep_large_blocks_apart
from handlers import actions, afterwards, broadcast
from handlers.actions import Role
from handlers.dispatch import Dispatcher
from handlers.registry import build_registry
from handlers.timers import TimerRunner
from storage import branches, broadcasts, inbox, outbox, users
from storage.db import Database, StorageUnavailable, Tx
from storage.priority_lock import yielding

log = logging.getLogger(__name__)

Along = Callable[[Tx], Awaitable[None]]
"""Writes that belong in the transaction keeping a platform's deliveries."""


@dataclass
class App:
    settings: Settings
    clock: Clock
    db: Database
    dispatcher: Dispatcher
    catalog: Catalog
    timers: TimerRunner
    on_wake: Callable[[Sequence[datetime]], None] | None = None
    """Set by a running scheduler: told when timers added by an event fall due."""
    on_queued: Callable[[], None] | None = None
    """Set by a running transport: told when messages were queued outside an event (a
    broadcast's progress), so they go out without waiting for the next look."""
    failing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the database has refused ``max_storage_failures`` writes in a row: the
    process should stop, non-zero, for its supervisor to start it afresh."""
    hush: Hush = field(default_factory=Hush)
    """Bulk messages wait while an answer is on its way (the transports' intake and
    delivery tell it)."""
    health: HealthCheck = field(init=False)
    """Called, tells whether the bot is doing its work (``/healthz``)."""
    _marks: GroupCommit[outbox.Mark] = field(init=False)
    _bulk_marks: GroupCommit[outbox.Mark] = field(init=False)

    BULK_MARKS_EVERY_S = 0.02
    """Bulk messages' marks are committed together at most this often: a broadcast draining
    at hundreds a second otherwise commits each copy on its own."""

    def __post_init__(self) -> None:
        self._marks = GroupCommit(self._write_marks)
        self._bulk_marks = GroupCommit(
            self._write_bulk_marks, most=256, spacing=self.BULK_MARKS_EVERY_S
        )
        self.health = HealthCheck(self.db, self.clock, self.settings.outbox_stall)
        self.db.on_failure = self._storage_failed
        self.dispatcher.on_committed = self._queued

    def _queued(self) -> None:
        if self.on_queued is not None:
            self.on_queued()

    def _storage_failed(self, in_a_row: int) -> None:
        if in_a_row >= self.settings.max_storage_failures and not self.failing.is_set():
            log.critical("the database refused %d writes in a row; stopping", in_a_row)
            self.failing.set()

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None) -> App:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as bad:
            raise StorageUnavailable(
                f"cannot use {settings.data_dir}: {bad.strerror or bad}"
            ) from None
        keep_large_blocks_apart()
        hand_over_quickly()
        chosen_clock = clock or SystemClock()
        db = await Database.open(settings.db_path)
        messages = catalog()
        dispatcher = Dispatcher(db, settings, chosen_clock, build_registry(), messages)
        timer_runner = TimerRunner(db, settings, chosen_clock, messages)
        await timer_runner.prepare()
        return cls(settings, chosen_clock, db, dispatcher, messages, timer_runner)

    async def close(self) -> None:
        await self._marks.flush()
        await self._bulk_marks.flush()
        self.dispatcher.close()
        await self.db.close()

    async def catch_up(self) -> int:
        """Does the work a crash left owed (an export asked for, a statistic); run it beside
        the transport, not in front of it: an export of a million items takes minutes."""
        done = await afterwards.catch_up(self.db, self.settings, self.catalog, self.clock)
        if done and self.on_queued is not None:
            self.on_queued()
        return done

    async def handle(self, event: Event) -> Handled:
        handled = await self.dispatcher.handle(event)
        self.health.last_handled = self.clock.now()
        if handled.wake_at and self.on_wake is not None:
            self.on_wake(handled.wake_at)
        return handled

    async def receive(
        self, deliveries: Sequence[inbox.Received], along: Along | None = None
    ) -> None:
        """Keeps what a platform delivered, and what ``along`` writes with it (where a pull
        stands); once this returns, the platform may be told "received". Raises when the
        database does not take it."""
        async with self.db.transaction() as tx:
            await inbox.store(tx, deliveries, self.clock.now())
            if along is not None:
                await along(tx)

    async def waiting(self, platform: str, after: int = 0) -> list[inbox.Received]:
        async with self.db.reading() as tx:
            return await inbox.waiting(tx, platform, after)

    async def settle(self, key: str) -> None:
        """A delivery with nothing in it for the bot (another kind of update) is done."""
        async with self.db.transaction() as tx:
            await inbox.claim(tx, key, self.clock.now())

    async def run_due(self) -> int:
        """Handles the timers that fell due (deadlines, digests, held pushes), each once no
        answer is on its way."""
        with yielding():
            return await self.timers.run_due(self.hush.quiet)

    async def unsent(
        self, platform: str, after: int = 0, *, bulk: bool | None = None, limit: int = 500
    ) -> list[Outgoing]:
        """Bulk messages' reads take their turn at the database after riders' work."""
        with yielding() if bulk else contextlib.nullcontext():
            async with self.db.reading() as tx:
                return await outbox.unsent(tx, platform, after, bulk=bulk, limit=limit)

    async def mark_sent(
        self,
        message_id: int,
        delivered_as: str | None = None,
        outcome: str = "sent",
        *,
        bulk: bool = False,
    ) -> None:
        """A transport is done with a message; returns once that is committed (an edit of
        the message needs its ``delivered_as``). A bulk message's mark waits for others to
        join it, and for answers on their way to pass."""
        mark = outbox.Mark(message_id, delivered_as, outcome)
        await (self._bulk_marks if bulk else self._marks).add(mark)

    async def _write_bulk_marks(self, marks: list[outbox.Mark]) -> None:
        await self.hush.quiet()
        with yielding():
            await self._write_marks(marks)

    async def _write_marks(self, marks: list[outbox.Mark]) -> None:
        """A broadcast's progress moves with its copies; the progress message it queues
        goes out at once."""
        queued = False
        now = self.clock.now()
        async with self.db.transaction_from(broadcasts.settling(marks, now)) as (tx, tallies):
            for tally in tallies:
                queued |= await broadcast.on_delivery(tx, self.catalog, tally, now)
        if queued and self.on_queued is not None:
            self.on_queued()

    async def staff(self) -> dict[str, str]:
        """Admins and secretaries by user id: "admin" or "secretary"."""
        async with self.db.reading() as tx:
            secretaries = await branches.all_secretaries(tx)
            admins = self.settings.admins | await branches.appointed_admins(tx)
        return {**dict.fromkeys(secretaries, "secretary"), **dict.fromkeys(admins, "admin")}

    async def role_of(self, user_id: str) -> str:
        """ "admin", "secretary" or "rider": which command menu the user gets."""
        async with self.db.reading() as tx:
            authority = await branches.authority(tx, user_id)
        return actions.role_of(self.settings, user_id, authority).value

    def commands(self, role: str) -> tuple[str, ...]:
        """The commands of a role's menu ("rider", "secretary", "admin"), from the one list."""
        return self.dispatcher.commands(Role(role))

    async def lang_of(self, user_id: str) -> str:
        async with self.db.reading() as tx:
            return await users.lang_of(tx, user_id)

    async def robot_webhook(self, branch_id: int) -> str:
        async with self.db.reading() as tx:
            branch = await branches.get(tx, branch_id)
        return branch.robot_webhook if branch else ""

    async def unreachable(self, user_id: str) -> None:
        async with self.db.transaction() as tx:
            await users.mark_unreachable(tx, user_id, self.clock.now())

    async def delivered_as(self, message_id: int) -> str | None:
        async with self.db.reading() as tx:
            return await outbox.delivered_as(tx, message_id)

    async def last_buttons(self, user_id: str) -> Reply | None:
        async with self.db.reading() as tx:
            return await outbox.last_with_buttons(tx, user_id)

    async def pressed(self, user_id: str, text: str) -> str | None:
        """The button whose label a user sent as text from the keyboard of a request (the
        only keyboard whose keys send their labels); None when the text is no such label."""
        async with self.db.reading() as tx:
            keyboard = await outbox.last_keyboard(tx, user_id)
        keys = keyboard.flat_buttons() if keyboard else []
        return next((key.data for key in keys if key.label == text), None)
