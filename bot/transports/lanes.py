"""Working through rows of the database one chat at a time, chats side by side.

The outbox (what to send) and the inbox (what was received) are both worked this way: rows
are read by id, each goes into its chat's lane, a lane does its rows in order, and a chat
never waits for another. A lane that stops on an error it did not expect lets go of its rows,
and they are read again from the database after a pause: nothing waits for a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from storage.db import is_storage_failure

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


async def persistently(action: Callable[[], Awaitable[R]], what: str) -> R:
    """Runs ``action`` until the database takes it: a full disk or a locked file is waited
    out with growing pauses (the process gives up by itself after too many failures in a row,
    see :class:`bot.app.App`); any other error is raised."""
    pause = RETRY_FIRST_S
    while True:
        try:
            return await action()
        except Exception as error:
            if not is_storage_failure(error):
                raise
            log.warning(
                "%s: the database takes no writes (%s); again in %.1fs", what, error, pause
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, RETRY_MAX_S)


class Woken:
    """A worker that does a round of its work whenever woken, and every ``POLL_S`` anyway
    (for what another process wrote, or what failed before), until stopped."""

    POLL_S = 2.0

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run())
        self.wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self) -> None:
        """Until stopped. The flag, not only the cancellation, ends the loop: Python 3.11's
        ``wait_for`` can swallow a cancellation that meets the event being set."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.POLL_S):
                    await self.wake.wait()
            self.wake.clear()
            await self._round()

    async def _round(self) -> None:
        raise NotImplementedError


Read = Callable[[int], Awaitable[Sequence[T]]]
"""Rows oldest first, with ids above the one given."""


class Lanes(Woken, Generic[T]):
    """Reads rows with ``read(after)`` and runs ``work(row, lane)`` for each, in the order of
    its lane; ``work`` may take more rows from the front of the lane (to merge them) and
    returns the rows it took.

    ``later``, when given, reads rows that yield to the first kind (bulk messages behind
    answers): they are read only while fewer than ``BACKLOG`` rows are held, so a broadcast to
    a hundred thousand riders is never all in memory, and within a lane the first kind goes
    ahead of them. The two kinds are read side by side: the first is never read behind the
    other, whose reads may wait (bulk messages' wait for answers to pass)."""

    BACKLOG = 1000
    OPEN_LATER = 32
    """Lanes opened for rows of the kind that yields that work at once, unless told more
    (``open_later``: what the platform's rate keeps on the wire). The others wait
    parked, in order, without a task: a topped-up backlog would otherwise start a thousand
    lanes in one turn of the event loop, tens of milliseconds an answer waits behind."""

    def __init__(
        self,
        name: str,
        read: Read[T],
        ident: Callable[[T], int],
        lane_of: Callable[[T], str],
        work: Callable[[T, deque[T]], Awaitable[list[T]]],
        later: Read[T] | None = None,
        on_first_kind: Callable[[str], None] = lambda lane: None,
        open_later: int = OPEN_LATER,
    ) -> None:
        super().__init__()
        self.name = name
        self._open_later = open_later
        self._on_first_kind = on_first_kind
        """Told of a lane that was given a row of the first kind while it works."""
        self._reads = [read] if later is None else [read, later]
        self._ident = ident
        self._lane_of = lane_of
        self._work = work
        self._lanes: dict[str, deque[T]] = {}
        self._held: dict[str, set[int]] = {}
        """Lane → ids of the rows it holds, queued or in hand."""
        self._holding: set[int] = set()
        """Every lane's: read again, these rows are skipped."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._taken = [0] * len(self._reads)
        """The newest id already read, of each kind."""
        self._later: set[int] = set()
        """Held rows of the kind that yields."""
        self._later_lanes: set[str] = set()
        """Lanes opened for a row of the kind that yields: at most ``open_later``."""
        self._parked: OrderedDict[str, deque[T]] = OrderedDict()
        """Lanes waiting to be opened, oldest first, with their rows."""
        self._more_later = False
        """Rows of the kind that yields were left unread for the backlog's sake."""
        self._reread = [False] * len(self._reads)
        """Of each kind: the next read starts from the first id again."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._reading = [asyncio.Lock() for _ in self._reads]
        """One reader of each kind at a time, so nothing is queued twice."""
        self._topping = asyncio.Event()
        self._topper: asyncio.Task[None] | None = None

    def start(self) -> None:
        super().start()
        if len(self._reads) > 1:
            self._topper = asyncio.create_task(self._top_up_when_woken())

    async def stop(self) -> None:
        await super().stop()
        if self._topper is not None:
            self._topper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._topper
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _round(self) -> None:
        await self._logged(self.drain)

    async def _logged(self, reading: Callable[[], Awaitable[None]]) -> None:
        try:
            await reading()
        except Exception as error:
            level = logging.WARNING if is_storage_failure(error) else logging.ERROR
            log.log(level, "reading the %s failed; trying again", self.name, exc_info=True)

    async def drain(self) -> None:
        """Queues the new rows of the first kind and has the backlog of the other topped up
        beside it."""
        async with self._reading[0]:
            self._restart(0)
            while batch := await self._reads[0](self._taken[0]):
                self._queue(batch, later=False)
        self._topping.set()

    async def _top_up_when_woken(self) -> None:
        while True:
            await self._topping.wait()
            self._topping.clear()
            await self._logged(self._top_up)

    async def _top_up(self) -> None:
        """Reads the kind that yields while fewer than ``BACKLOG`` rows are held."""
        async with self._reading[1]:
            self._restart(1)
            while len(self._holding) < self.BACKLOG:
                batch = await self._reads[1](self._taken[1])
                if not batch:
                    self._more_later = False
                    return
                self._queue(batch, later=True)
            self._more_later = True

    def _restart(self, kind: int) -> None:
        if self._reread[kind]:
            self._taken[kind], self._reread[kind] = 0, False

    async def idle(self) -> None:
        """Returns once every row read so far has been worked (tests, a clean stop)."""
        await self.drain()
        if len(self._reads) > 1:
            await self._top_up()
        await self._idle.wait()

    def look_again(self) -> None:
        """Rows older than the newest read became workable (held messages released): the
        next look reads from the start."""
        self._reread = [True] * len(self._reads)
        self.wake.set()

    def _queue(self, batch: Sequence[T], *, later: bool) -> None:
        kind = int(later)
        for row in batch:
            ident = self._ident(row)
            self._taken[kind] = max(self._taken[kind], ident)
            if ident in self._holding:
                continue
            lane = self._lane_of(row)
            self._held.setdefault(lane, set()).add(ident)
            self._holding.add(ident)
            if later:
                self._later.add(ident)
                self._queue_later(lane, row)
                continue
            queue = self._lanes.get(lane)
            if queue is None:
                queue = self._open(lane, self._parked.pop(lane, deque()))
            waiting = [self._ident(held) in self._later for held in queue]
            queue.insert(waiting.index(True) if True in waiting else len(queue), row)
            self._on_first_kind(lane)

    def _queue_later(self, lane: str, row: T) -> None:
        queue = self._lanes.get(lane)
        if queue is not None:
            queue.append(row)
        elif lane in self._parked or len(self._later_lanes) >= self._open_later:
            self._idle.clear()
            self._parked.setdefault(lane, deque()).append(row)
        else:
            self._later_lanes.add(lane)
            self._open(lane, deque([row]))

    def _open(self, lane: str, rows: deque[T]) -> deque[T]:
        self._idle.clear()
        self._lanes[lane] = rows
        task = asyncio.create_task(self._work_lane(lane, rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return rows

    def _unpark(self) -> None:
        while self._parked and len(self._later_lanes) < self._open_later:
            lane, rows = self._parked.popitem(last=False)
            self._later_lanes.add(lane)
            self._open(lane, rows)

    async def _work_lane(self, lane: str, queue: deque[T]) -> None:
        try:
            while queue:
                row = queue.popleft()
                for done in await self._work(row, queue):
                    self._held[lane].discard(self._ident(done))
                    self._holding.discard(self._ident(done))
                    self._later.discard(self._ident(done))
                if self._more_later and len(self._holding) < self.BACKLOG // 2:
                    self._topping.set()
        except Exception:
            log.exception("%s: lane %s stopped; its rows are read again", self.name, lane)
            self._reread = [True] * len(self._reads)
            asyncio.get_running_loop().call_later(RETRY_FIRST_S, self.wake.set)
        finally:
            del self._lanes[lane]
            released = self._held.pop(lane)
            self._holding -= released
            self._later -= released
            self._later_lanes.discard(lane)
            if not self._stopping:
                self._unpark()
            if not self._lanes and not self._parked:
                self._idle.set()


class LaneWorker:
    """What a worker over :class:`Lanes` (the intake, a delivery) offers its runner."""

    _lanes: Lanes[Any]

    def start(self) -> None:
        self._lanes.start()

    async def stop(self) -> None:
        await self._lanes.stop()

    async def idle(self) -> None:
        """Returns once every row read so far has been worked (tests, a clean stop)."""
        await self._lanes.idle()
