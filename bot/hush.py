"""Answers ahead of bulk messages in the process's own time, not only in the platform's rate.

With the platform's limits lifted (a local Bot API server, paid broadcasts), a broadcast
would send as fast as the event loop goes, and every step of a rider's answer (the update
kept, handled, its reply sent) would wait its turn behind copies. Bulk senders wait here
while an answer is on its way through the process, and a moment after, for the steps in
between. A hush holds bulk back for at most ``LONGEST_S``: when answers follow each other
without a pause (a city's peak), bulk goes on beside them, at the share and the rates the
gates give it, rather than every bulk step waiting a second. The wait is on the monotonic
clock: it is about the machine's time, not the riders'.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator


class Hush:
    GRACE_S = 0.01
    """How long bulk stays quiet after an answer's step ends: the next step (the handling
    after the keeping, the sending after the handling) starts within a few milliseconds."""
    LONGEST_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._answering = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0
        """When the hush began."""

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a step of an answer: bulk senders wait until it, and the grace after it,
        are over."""
        self._answering += 1
        if self._quiet.is_set():
            self._since = self._clock()
        self._quiet.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._timer = asyncio.get_running_loop().call_later(self.GRACE_S, self._settle)

    def _settle(self) -> None:
        self._timer = None
        if not self._answering:
            self._quiet.set()

    async def quiet(self) -> None:
        """Returns once no answer is on its way, or once the hush is ``LONGEST_S`` old."""
        if self._quiet.is_set():
            return
        left = self._since + self.LONGEST_S - self._clock()
        if left <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await self._quiet.wait()
