"""The outside world in a process of its own: a local Bot API server and the users driving it.

A benchmark that ran the server and its riders in the bot's own process would charge their
CPU to the bot (and let the bot's work slow the riders' clocks). Here they run in a spawned
process: the bot under test has its process to itself, as it would in production.

The scenario is a module-level coroutine function ``scenario(server, argument)`` (spawn pickles
it by name); it starts once the bot says it is running, and what it returns comes back. The
server stays up until the bot has stopped, so the bot's last calls find it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.memory import settle_heap
from bot.transports.telegram import Limits, TelegramRunner
from tests.fake_telegram import FakeTelegram

Scenario = Callable[[FakeTelegram, Any], Awaitable[Any]]


def _serve(scenario: Scenario, argument: Any, conn: Connection) -> None:
    asyncio.run(_serving(scenario, argument, conn))


async def _serving(scenario: Scenario, argument: Any, conn: Connection) -> None:
    server = FakeTelegram()
    await server.start()
    try:
        conn.send((server.api_url, server.file_url))
        await asyncio.to_thread(conn.recv)
        conn.send(await scenario(server, argument))
        await asyncio.to_thread(conn.recv)
    finally:
        await server.stop()


class Outside:
    """``async with Outside(scenario, argument) as outside``: start the bot on
    ``outside.api_url`` / ``outside.file_url``, then ``await outside.result()``."""

    def __init__(self, scenario: Scenario, argument: Any = None) -> None:
        self._scenario = scenario
        self._argument = argument
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(scenario, argument, child), daemon=True
        )
        self.api_url = ""
        self.file_url = ""

    async def __aenter__(self) -> Outside:
        self._process.start()
        self.api_url, self.file_url = await asyncio.to_thread(self._conn.recv)
        return self

    async def result(self) -> Any:
        """Starts the scenario (the bot is running) and returns what it found."""
        self._conn.send("go")
        return await asyncio.to_thread(self._conn.recv)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process.is_alive():
            self._conn.send("stop")
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()


async def run_bot(
    outside: Outside,
    settings: Settings,
    limits: Limits,
    prepare: Callable[[App], Awaitable[None]] | None = None,
) -> Any:
    """The bot as ``nuanxin telegram`` runs it, until the scenario is over; returns what the
    scenario found. ``prepare`` fills the database before the bot starts."""
    app = await App.open(settings)
    try:
        if prepare is not None:
            await prepare(app)
        runner = TelegramRunner(app, settings, limits)
        await runner.start()
        settle_heap()
        try:
            return await outside.result()
        finally:
            await runner.stop()
    finally:
        await app.close()
