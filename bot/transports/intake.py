"""What platforms deliver: kept first, acknowledged after, handled one chat at a time.

A transport calls :meth:`Intake.accept` with what it received and tells the platform
"received" only when that returns; the inbox is then worked through in the background, each
chat in order and chats side by side. A delivery the database cannot take yet (a full disk)
waits in its chat's lane and is tried again, so riders get late answers, never none; after a
restart, whatever was kept and not handled is handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial

from bot.app import Along, App
from bot.events import Event
from bot.transports.lanes import Lanes, LaneWorker, persistently
from storage.inbox import Received

log = logging.getLogger(__name__)


async def handle(app: App, delivery: Received, event: Event | None) -> str | None:
    """Has the app handle what a delivery was translated to (or settles a delivery that
    carries nothing for it, then None); the downloaded file is removed after. Returns the
    remark for the user, if any (a pop-up where the platform has them)."""
    if event is None:
        await app.settle(delivery.key)
        return None
    try:
        return (await app.handle(event)).notice
    finally:
        if event.file is not None:
            await asyncio.to_thread(event.file.unlink, missing_ok=True)


HandleOne = Callable[[Received], Awaitable[None]]
"""Translates one delivery and has the app handle it (or settle it, if it carries nothing)."""


GroupOf = Callable[[Received], str]
"""Which group a delivery belongs to ("" for none): several photos sent as one album."""


class Intake(LaneWorker):
    def __init__(
        self, app: App, platform: str, handle_one: HandleOne, group_of: GroupOf | None = None
    ) -> None:
        self._app = app
        self._handle_one = handle_one
        self._group_of = group_of
        self._lanes: Lanes[Received] = Lanes(
            f"{platform} inbox",
            partial(app.waiting, platform),
            lambda delivery: delivery.id,
            lambda delivery: delivery.chat,
            self._work,
        )

    async def accept(self, deliveries: Sequence[Received], along: Along | None = None) -> None:
        """Keeps the deliveries, and what ``along`` writes with them (raises when the
        database does not take them: then nothing may be acknowledged), and lets the workers
        at them."""
        if deliveries or along is not None:
            with self._app.hush.answering():
                await self._app.receive(deliveries, along)
            self._lanes.wake.set()

    async def _work(self, delivery: Received, queue: deque[Received]) -> list[Received]:
        delivery = replace(delivery, following=self._following(delivery, queue))
        with self._app.hush.answering():
            try:
                handling = partial(self._handle_one, delivery)
                await persistently(handling, f"handling {delivery.key}")
            except Exception:
                log.exception("%s could not be handled; set aside", delivery.key)
                settling = partial(self._app.settle, delivery.key)
                await persistently(settling, f"settling {delivery.key}")
        return [delivery]

    def _following(self, delivery: Received, queue: deque[Received]) -> int:
        """How many of the same group wait right behind: the last of them is answered."""
        group = self._group_of(delivery) if self._group_of else ""
        if not group or self._group_of is None:
            return 0
        count = 0
        for later in queue:
            if self._group_of(later) != group:
                break
            count += 1
        return count
