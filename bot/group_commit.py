"""Many small writes that each wait for their commit, committed together."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Callers wait until their record is committed; records that arrive while one commit
    is under way go together in the next.

    Every transaction costs trips to the database thread and a turn at the one writer's
    lock; a transport marking each sent message on its own spent more of both than the
    events it answered. The batch grows with the load, so a quiet bot still commits at once.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        most: int = 64,
        *,
        spacing: float = 0.0,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._write = write
        self._most = most
        """Records one commit takes at most: the writer's lock is held that much shorter
        for whoever waits behind it (a rider's answer behind a broadcast's marks)."""
        self._spacing = spacing
        """Seconds at least from one commit's start to the next's. Records that need not be
        committed at once (a broadcast's copies, hundreds a second) then go by the dozen,
        where each would otherwise be a commit of its own as soon as the last one ended: three
        trips to the database thread and a write of every page it touches, each time."""
        self._pause = pause
        self._last = -math.inf
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, record: T) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((record, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        await done

    async def flush(self) -> None:
        """Returns once everything added so far is written."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_all(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                await self._spaced()
                batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                if not await self._settled(batch) and len(batch) > 1:
                    for pair in batch:
                        await self._settled([pair])
        except BaseException:
            for _, done in batch + self._waiting:
                done.cancel()
            raise
        finally:
            self._writer = None

    async def _spaced(self) -> None:
        loop = asyncio.get_running_loop()
        left = self._last + self._spacing - loop.time()
        if left > 0:
            await self._pause(left)
        self._last = loop.time()

    async def _settled(self, batch: list[tuple[T, asyncio.Future[None]]]) -> bool:
        """Writes a batch and tells its callers; a batch of several that fails is left
        unsettled, to be written record by record so one bad record fails only its caller."""
        try:
            await self._write([record for record, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch, error)
            return False
        _settle(batch, None)
        return True


def _settle(batch: list[tuple[T, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
