"""Sending the outbox: the part every platform shares.

Each recipient's messages go in order and paced; recipients go side by side; a pending edit
that a newer edit of the same message replaces is skipped, so a progress count never queues
up behind itself. A platform supplies only how to send one message and what its errors mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from bot.app import App
from bot.events import Button, Outgoing, Reply
from bot.transports.gate import LoopShare, RateGate
from bot.transports.lanes import Lanes, LaneWorker, persistently
from handlers.buttons import pack

log = logging.getLogger(__name__)


class Unreachable(Exception):
    """The platform will never deliver to this user (they blocked the bot, left the company)."""


class Refused(Exception):
    """The platform refused this message; sending it again would not help."""


class Transient(Exception):
    """Network trouble or a server error: worth trying again later."""


class Held(Exception):
    """The platform lets this message go only after the recipient writes again (WeChat's
    window): it stays in the outbox, out of the way, until the transport releases it."""


MB = 1024 * 1024


def within_file_limit(app: App, reply: Reply, lang: str, limit: int) -> Reply:
    """A document larger than the platform takes (an export of a city's million items)
    becomes a note saying where to get it instead: sending it would fail every time."""
    if not reply.document:
        return reply
    size = Path(reply.document).stat().st_size
    if size <= limit:
        return reply
    note = app.catalog.t(
        lang,
        "file.too_big",
        name=Path(reply.document).name,
        size=f"{size / MB:.1f}",
        limit=limit // MB,
    )
    return replace(reply, document=None, text=f"{reply.text}\n{note}" if reply.text else note)


SendOne = Callable[[Outgoing], Awaitable[str]]
"""Sends one message and returns the platform's id for it; raises the errors above."""


@dataclass(frozen=True)
class Pace:
    """A token bucket per recipient: ``burst`` at once, then ``per_s`` a second."""

    burst: int = 3
    per_s: float | None = 1.0
    """None: no pacing."""


class ChatPace:
    """Buckets on the monotonic clock: pacing is about the wire, not about the riders' time, so
    it does not use the domain clock."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self._pace = pace
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def delay(self, chat: str) -> float:
        """Takes one token for ``chat`` and says how long to wait before using it."""
        rate = self._pace.per_s
        if rate is None:
            return 0.0
        now = self._clock()
        tokens, then = self._buckets.get(chat, (float(self._pace.burst), now))
        tokens = min(self._pace.burst, tokens + (now - then) * rate) - 1
        self._buckets[chat] = (tokens, now)
        if len(self._buckets) > 10_000:
            self._forget_full(now, self._pace.burst / rate)
        return max(0.0, -tokens / rate)

    def _forget_full(self, now: float, refill: float) -> None:
        self._buckets = {c: b for c, b in self._buckets.items() if now - b[1] < refill}


def plain(message: Outgoing) -> bool:
    reply = message.reply
    return not (
        reply.buttons
        or reply.photo
        or reply.document
        or reply.venue
        or reply.edit_of
        or reply.refresh_menu
    )


def _answers_in(queue: deque[Outgoing]) -> bool:
    return any(not waiting.bulk for waiting in queue)


FLOOD_SHOWN = 5
"""Items a flood's summary names; the rest are in /pending."""


class Delivery(LaneWorker):
    IN_FLIGHT = 16
    """Requests on the wire at once: enough to fill Telegram's 30 messages/s over round trips
    of a few hundred milliseconds, few enough that a broadcast leaves connections free."""
    BULK_READ = 100
    """Bulk messages read at a time: each is a few milliseconds of the event loop's time
    (an answer waits that long), and the outbox's backlog is topped up as it goes."""
    KEPT_FOR_ANSWERS = 4
    """Requests on the wire that bulk messages never take: an answer finds one free at once,
    whatever the platform's rate (or with none, against a local server)."""
    ROUND_TRIP_S = 0.3
    """A request's round trip to the platform, at worst."""

    @classmethod
    def on_the_wire(cls, overall_per_s: float) -> int:
        """Requests on the wire at once: ``IN_FLIGHT``, or a round trip's worth of the
        platform's rate when that is more (a paid broadcast at 1000 a second needs 300)."""
        return max(cls.IN_FLIGHT, math.ceil(overall_per_s * cls.ROUND_TRIP_S))

    def __init__(
        self,
        app: App,
        platform: str,
        send_one: SendOne,
        pace: Pace,
        *,
        merge: bool = False,
        overall_per_s: float = 0,
    ) -> None:
        self.app = app
        self.platform = platform
        self._merge = merge
        """Plain texts waiting for the same recipient go as one message (a group robot, whose
        limit is per minute and whose readers want a digest, not a stream)."""
        self._send_one = send_one
        self._pace = ChatPace(pace)
        self._per_minute = None if pace.per_s is None else pace.burst + int(pace.per_s * 60)
        """Cards one person can be sent in a minute: more waiting are a flood."""
        self._gate = RateGate(overall_per_s)
        self._share = LoopShare()
        wire = self.on_the_wire(overall_per_s)
        self._wire = asyncio.Semaphore(wire)
        self._bulk_wire = asyncio.Semaphore(wire - self.KEPT_FOR_ANSWERS)
        self._lanes: Lanes[Outgoing] = Lanes(
            f"{platform} outbox",
            partial(app.unsent, platform, bulk=False),
            lambda message: message.id,
            lambda message: message.address,
            self._send,
            later=self._read_bulk,
            on_first_kind=self._promote,
            open_later=max(Lanes.OPEN_LATER, wire),
        )
        self.wake = self._lanes.wake
        self.look_again = self._lanes.look_again

    async def _read_bulk(self, after: int) -> list[Outgoing]:
        """Bulk messages' trips to the database wait, as their sending does, while an answer
        is on its way: the database thread takes trips in turn, and an answer's steps would
        queue behind them."""
        await self.app.hush.quiet()
        return await self.app.unsent(self.platform, after, bulk=True, limit=self.BULK_READ)

    async def _send(self, message: Outgoing, queue: deque[Outgoing]) -> list[Outgoing]:
        """Sends one message (with the plain texts after it, when merging; with every card
        waiting, as one summary, in a flood) and marks it.

        A mark the database does not take (a full disk) is tried again until it is: the
        chat's next messages wait for it, in order, rather than the message going twice. A
        bulk message's mark waits, as its sending did, while an answer is on its way."""
        target = message.reply.edit_of
        batch = [message]
        if target is not None and any(m.reply.edit_of == target for m in queue):
            delivered_as, outcome = None, "superseded"
        else:
            flooded = self._flood(message, queue)
            if flooded:
                batch = flooded
                message = replace(message, reply=await self._summary(message, flooded))
            await asyncio.sleep(self._pace.delay(message.address))
            while self._merge and queue and plain(message) and plain(queue[0]):
                batch.append(queue.popleft())
            if len(batch) > 1 and not flooded:
                merged = Reply(text="\n\n".join(m.reply.text for m in batch))
                message = replace(message, reply=merged)
            yields = message.bulk and not _answers_in(queue)
            if yields:
                await self.app.hush.quiet()
                await self._share.gate.take(message.address, bulk=not _answers_in(queue))
                yields = not _answers_in(queue)
            await self._gate.take(message.address, bulk=yields)
            answering = contextlib.nullcontext() if yields else self.app.hush.answering()
            async with self._bulk_wire if message.bulk else contextlib.nullcontext(), self._wire:
                with answering:
                    delivered_as, outcome = await self._send_until_done(message)
            if flooded and outcome == "sent":
                delivered_as, outcome = None, "merged"
        for done in batch:
            mark = partial(self.app.mark_sent, done.id, delivered_as, outcome, bulk=done.bulk)
            await persistently(mark, f"marking message {done.id} sent")
            if outcome != "held":
                await self._forget_export(done.reply)
        return batch

    def _promote(self, chat: str) -> None:
        """An answer joined the chat's lane: its waiting bulk message goes ahead at both
        gates, or the answer would wait behind it."""
        self._share.gate.promote(chat)
        self._gate.promote(chat)

    def start(self) -> None:
        super().start()
        self._share.start()

    async def stop(self) -> None:
        await self._share.stop()
        await super().stop()

    async def _forget_export(self, reply: Reply) -> None:
        """An exported file (names, phone numbers) or a chart is removed once the chat has
        it: the platform keeps the copy the person asked for, the server none."""
        exports = self.app.settings.data_dir / "exports"
        for made in (reply.document, reply.photo):
            if made and Path(made).parent == exports:
                await asyncio.to_thread(Path(made).unlink, missing_ok=True)

    def _flood(self, message: Outgoing, queue: deque[Outgoing]) -> list[Outgoing]:
        """When more cards wait for one person than the platform lets through in a minute,
        all of them (this one first), taken out of the queue; else none."""
        if message.card_of is None or self._per_minute is None:
            return []
        waiting = [m for m in queue if m.card_of is not None]
        if len(waiting) + 1 <= self._per_minute:
            return []
        for card in waiting:
            queue.remove(card)
        return [message, *waiting]

    async def _summary(self, first: Outgoing, cards: list[Outgoing]) -> Reply:
        """ "12 件新事项", the first few, and a button to the list."""
        lang = await self.app.lang_of(first.recipient)
        t = self.app.catalog.t
        items: dict[str | None, str] = {}
        for card in cards:
            items.setdefault(card.card_of, card.reply.text.split("\n", 1)[0])
        lines = [t(lang, "flood.summary", count=len(items))]
        lines += [f"• {head}" for head in list(items.values())[:FLOOD_SHOWN]]
        if len(items) > FLOOD_SHOWN:
            lines.append(t(lang, "flood.more", count=len(items) - FLOOD_SHOWN))
        button = Button(t(lang, "flood.pending"), pack("pending"))
        return Reply(text="\n".join(lines), buttons=((button,),))

    async def _send_until_done(self, message: Outgoing) -> tuple[str | None, str]:
        """Sends one message, retrying transient trouble with growing pauses; returns the
        platform's id (None when it will never take the message) and the outcome."""
        pause = 1.0
        while True:
            try:
                return await self._send_one(message), "sent"
            except Unreachable:
                log.info("%s cannot be reached; marked", message.recipient)
                await self.app.unreachable(message.recipient)
                return None, "blocked"
            except Held:
                log.info(
                    "message %s to %s held for their next message", message.id, message.recipient
                )
                return None, "held"
            except Refused as bad:
                log.error("message %s to %s refused: %s", message.id, message.recipient, bad)
                return None, "failed"
            except Transient:
                log.exception("sending message %s failed; retrying in %.0f s", message.id, pause)
            except Exception:
                log.exception("message %s cannot be rendered; dropped", message.id)
                return None, "failed"
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60)
