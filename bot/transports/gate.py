"""A platform's overall sending rate, handed out to answers before bulk messages.

Telegram allows about 30 messages a second in all (up to 1000 for paid broadcasts). A
broadcast that took its turn in arrival order would hold every rider's answer behind its
copies; here the capacity goes to answers first, and a broadcast uses what answers leave.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RateGate:
    """A token bucket (``per_s`` a second, a second's worth at once) whose waiting senders
    are served answers first, then bulk, each in arrival order. ``per_s`` 0: no limit."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_s
        self._burst = max(1.0, per_s)
        self._tokens = self._burst
        self._clock = clock
        self._stamp = clock()
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())
        self._timer: asyncio.TimerHandle | None = None

    async def take(self, *, bulk: bool) -> None:
        if self._rate <= 0:
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting[bulk].append(turn)
        self._hand_out()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._tokens += 1
            raise

    def _hand_out(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        for queue in self._waiting:
            while queue and self._tokens >= 1:
                turn = queue.popleft()
                if not turn.done():
                    self._tokens -= 1
                    turn.set_result(None)
        if any(self._waiting) and self._timer is None:
            delay = (1 - self._tokens) / self._rate
            self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._hand_out()
