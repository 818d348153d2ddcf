"""The one connection's turns, riders' work first.

Every trip to the database waits for the connection's lock. In arrival order, a rider's
answer would wait behind every bulk read, every commit of a broadcast's marks and every
timer that asked just before it, each several trips long while the event loop is busy.
Work that can wait says so (:func:`yielding`) and takes its turn after work that cannot,
though never more than ``PASSED_OVER`` turns in a row: at a city's peak, when riders' work
always waits, a broadcast still moves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar

_YIELDING: ContextVar[bool] = ContextVar("yielding", default=False)


@contextlib.contextmanager
def yielding() -> Iterator[None]:
    """Within it, this task's turns at the database go after riders' waiting ones."""
    token = _YIELDING.set(True)
    try:
        yield
    finally:
        _YIELDING.reset(token)


class PriorityLock:
    """An asyncio lock with two queues: waiters that yield are served when no other waits,
    or once they have been passed over ``PASSED_OVER`` times in a row."""

    PASSED_OVER = 8

    def __init__(self) -> None:
        self._held = False
        self._first: deque[asyncio.Future[None]] = deque()
        self._yielding: deque[asyncio.Future[None]] = deque()
        self._passed_over = 0

    async def __aenter__(self) -> None:
        if not self._held and not self._first and not self._yielding:
            self._held = True
            return
        turn = asyncio.get_running_loop().create_future()
        queue = self._yielding if _YIELDING.get() else self._first
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._hand_on()
            else:
                queue.remove(turn)
            raise

    async def __aexit__(self, *_: object) -> None:
        self._hand_on()

    def _hand_on(self) -> None:
        """Gives the next turn, still held, to the next waiter; else lets go."""
        passed_over = self._passed_over >= self.PASSED_OVER
        order = (self._yielding, self._first) if passed_over else (self._first, self._yielding)
        for queue in order:
            while queue:
                turn = queue.popleft()
                if turn.done():
                    continue
                if queue is self._first and self._yielding:
                    self._passed_over += 1
                else:
                    self._passed_over = 0
                turn.set_result(None)
                return
        self._held = False
