"""A platform's overall sending rate, handed out to answers before bulk messages.

Telegram allows about 30 messages a second in all (up to 1000 for paid broadcasts). A
broadcast that took its turn in arrival order would hold every rider's answer behind its
copies; here the capacity goes to answers first, and a broadcast uses what answers leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable


class RateGate:
    """A token bucket (``per_s`` a second, ``burst_s`` worth at once) whose waiting senders
    are served answers first, then bulk, each in arrival order. ``per_s`` 0: no limit.

    A chat whose bulk message waits here while an answer queues behind it in the same chat
    is promoted (:meth:`promote`): it joins the answers, or the answer would wait for as long
    as answers keep the rate busy."""

    RESERVE = 3
    """Tokens bulk messages leave in the bucket: an answer that comes while a broadcast is
    draining finds one at once, as it would with no broadcast."""

    def __init__(
        self, per_s: float, clock: Callable[[], float] = time.monotonic, burst_s: float = 1.0
    ) -> None:
        self._burst_s = burst_s
        self._rated(per_s)
        self._tokens = self._burst
        self._clock = clock
        self._stamp = clock()
        self._answers: deque[asyncio.Future[None]] = deque()
        self._bulk: dict[str, asyncio.Future[None]] = {}
        """Chat → its waiting bulk message's turn, in arrival order."""
        self._timer: asyncio.TimerHandle | None = None

    async def take(self, chat: str, *, bulk: bool) -> None:
        if self._rate <= 0:
            return
        turn = asyncio.get_running_loop().create_future()
        if bulk:
            self._bulk[chat] = turn
        else:
            self._answers.append(turn)
        self._hand_out()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._tokens += 1
            raise
        finally:
            if self._bulk.get(chat) is turn:
                del self._bulk[chat]

    def set_rate(self, per_s: float) -> None:
        """From now on, ``per_s`` a second (tokens gathered so far are kept)."""
        self._hand_out()
        self._rated(per_s)

    def _rated(self, per_s: float) -> None:
        self._rate = per_s
        self._burst = max(1.0, per_s * self._burst_s)
        self._reserve = min(self.RESERVE, int(self._burst) - 1)

    def promote(self, chat: str) -> None:
        """The chat's waiting bulk message goes with the answers from now on."""
        turn = self._bulk.pop(chat, None)
        if turn is not None:
            self._answers.append(turn)
            self._hand_out()

    def _hand_out(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        while (turn := self._next()) is not None:
            self._tokens -= 1
            turn.set_result(None)
        if self._answers or self._bulk:
            needed = 1 if self._answers else 1 + self._reserve
            delay = max((needed - self._tokens) / self._rate, 0.001)
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _next(self) -> asyncio.Future[None] | None:
        """The next turn a token can serve: an answer's, or a bulk message's while the
        reserve stays."""
        while self._answers and self._tokens >= 1:
            turn = self._answers.popleft()
            if not turn.done():
                return turn
        while self._bulk and self._tokens >= 1 + self._reserve:
            chat = next(iter(self._bulk))
            turn = self._bulk.pop(chat)
            if not turn.done():
                return turn
        return None

    def _tick(self) -> None:
        self._timer = None
        self._hand_out()


class LoopShare:
    """Bulk messages take at most ``SHARE`` of the event loop's thread.

    Every ``SAMPLE_S`` the thread's CPU time is compared with the time passed: above the
    share, the bulk rate is cut by a third; below it, it grows by a tenth (between
    ``FLOOR_PER_S`` and ``CEILING_PER_S``). With the platform's limits lifted a broadcast
    would otherwise keep the loop, and the machine, busy to the last cycle, and every step of
    an answer would queue behind its copies; under a platform's own limits the loop is
    mostly idle and the share never binds."""

    SAMPLE_S = 0.1
    SHARE = 0.4
    """Two fifths: at half, riders' p99 during a broadcast with the limits lifted was 2-3
    times its value without one; with bulk marks grouped, two fifths still drains faster
    than half once did."""
    FLOOR_PER_S = 30.0
    """Telegram's free rate: however busy the loop, a broadcast goes no slower."""
    CEILING_PER_S = 10_000.0
    BURST_S = 0.05
    """Turns that may go at once after a pause: a twentieth of a second's worth."""

    def __init__(self) -> None:
        self.per_s = self.FLOOR_PER_S
        self.gate = RateGate(self.per_s, burst_s=self.BURST_S)
        """Bulk messages take their turns here; a chat's waiting turn is promoted as at the
        platform's gate."""
        self._sampler: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sampler = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wall, busy = loop.time(), time.thread_time()
            await asyncio.sleep(self.SAMPLE_S)
            share = (time.thread_time() - busy) / max(loop.time() - wall, 1e-6)
            grown = self.per_s * (2 / 3 if share > self.SHARE else 1.1)
            self.per_s = min(max(grown, self.FLOOR_PER_S), self.CEILING_PER_S)
            self.gate.set_rate(self.per_s)
