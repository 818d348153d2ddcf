"""Answers ahead of bulk messages in the process's own time, not only in the platform's rate.

With the platform's limits lifted (a local Bot API server, paid broadcasts), a broadcast
would send as fast as the event loop goes, and every step of a rider's answer (the update
kept, handled, its reply sent) would wait its turn behind copies. Bulk senders wait here
while an answer is on its way through the process, and a moment after, for the steps in
between; never longer than ``LONGEST_S`` at a time, so a stream of answers slows a broadcast
but never stops it. The wait is on the event loop's clock: it is about the machine's time,
not the riders'.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Hush:
    GRACE_S = 0.01
    """How long bulk stays quiet after an answer's step ends: the next step (the handling
    after the keeping, the sending after the handling) starts within a few milliseconds."""
    LONGEST_S = 1.0

    def __init__(self) -> None:
        self._answering = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._timer: asyncio.TimerHandle | None = None

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a step of an answer: bulk senders wait until it, and the grace after it,
        are over."""
        self._answering += 1
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
        """Returns once no answer is on its way, or after ``LONGEST_S``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.LONGEST_S):
                await self._quiet.wait()
