"""Copying the write-ahead log into the database file, beside the writer instead of inside it.

SQLite's default is a checkpoint by whichever commit finds the log over a thousand pages:
that commit copies them and syncs the file, 100-200 ms during which the one writer's lock is
held and a rider's update waits to be kept. Here a connection of its own, on a thread of its
own, checkpoints every second (PASSIVE: it never waits for, nor holds up, the writer), and
the writer's automatic checkpoint is turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)


class Checkpoints:
    EVERY_S = 1.0

    def __init__(self, path: Path, last_commit: Callable[[], float]) -> None:
        self._path = path
        self._last_commit = last_commit
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        """Held while a checkpoint runs: a checkpoint that must truncate the log (erasure)
        takes it, so it never meets this one and gives up."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Ends the checkpoints; a second call does nothing (a database closed twice)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        async with self.lock:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown()

    async def _run(self) -> None:
        done = float("-inf")
        while True:
            await asyncio.sleep(self.EVERY_S)
            if self._last_commit() <= done:
                continue
            done = self._last_commit()
            async with self.lock:
                try:
                    await asyncio.get_running_loop().run_in_executor(self._thread, self._copy)
                except sqlite3.Error:
                    log.warning("a checkpoint failed; the next one copies the rest", exc_info=True)

    def _copy(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
