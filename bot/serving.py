"""Running the bot as a service: one serving process per data directory, stopped by a signal,
or by itself when the database keeps refusing writes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Protocol

from bot.app import App
from bot.config import Settings
from bot.memory import settle_heap
from bot.web.server import serve_console
from storage.db import StorageUnavailable

LOCK_FILE = "nuanxin.lock"

log = logging.getLogger(__name__)


class StartError(RuntimeError):
    """The bot cannot run; the message says why, in one line."""


class AlreadyServed(StartError):
    """Another process serves the data directory: two would both send the outbox."""


class StorageGaveUp(StartError):
    """The database refused too many writes in a row; a supervisor should start us again."""


@contextlib.contextmanager
def claim(data_dir: Path) -> Iterator[None]:
    """Holds the data directory for this process until the block ends (or the process dies,
    however it dies: the system lets go of the lock). Commands that only read, or write a
    little beside the bot (``export``, ``admin``), do not claim it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / LOCK_FILE).open("a+")
    except OSError as bad:
        raise StorageUnavailable(f"cannot use {data_dir}: {bad.strerror or bad}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise AlreadyServed(
                f"another nuanxin process (pid {pid}) is serving {data_dir}; only one may"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def serve(
    settings: Settings,
    launch: Callable[[App], Awaitable[Stoppable]],
    web: str | None = None,
) -> None:
    """Opens the bot, starts a transport on it (and the web console on ``web``, HOST:PORT)
    and runs until SIGINT or SIGTERM, or until the database has refused
    ``max_storage_failures`` writes in a row (then :class:`StorageGaveUp`, for a non-zero
    exit)."""
    with claim(settings.data_dir):
        app = await App.open(settings)
        try:
            running = await launch(app)
            settle_heap()
            catching_up = asyncio.create_task(app.catch_up())
            console = await serve_console(app, web) if web else None
            if "admin" not in (await app.staff()).values():
                log.warning(
                    "no admin is set up: set NUANXIN_ADMINS (platform:id, like telegram:12345) "
                    "or run 'nuanxin admin admins add USER'; until then reports that no "
                    "secretary handles wait unseen, and their riders are told so"
                )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                waits = [asyncio.create_task(stop.wait()), asyncio.create_task(app.failing.wait())]
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for wait in waits:
                    wait.cancel()
            finally:
                catching_up.cancel()
                if console is not None:
                    await console.stop()
                await running.stop()
        finally:
            await app.close()
    if app.failing.is_set():
        raise StorageGaveUp(
            f"the database refused {settings.max_storage_failures} writes in a row; stopped"
        )
