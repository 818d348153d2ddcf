"""Fixtures: each test gets its own data folder, database and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.config import Secret, Settings
from bot.transports.telegram import Limits, TelegramRunner
from tests.chat import Chat
from tests.fake_telegram import TOKEN, FakeTelegram


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        admins=frozenset({"console:admin"}),
        telegram_bot_username="nuanxin_bot",
    )


@pytest.fixture
def clock() -> ManualClock:
    """A quiet mid-afternoon in Shanghai (the riders' lull), on a working day."""
    return ManualClock(datetime(2026, 12, 1, 15, 0, tzinfo=CHINA))


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[App]:
    opened = await App.open(settings, clock)
    yield opened
    await opened.close()


Restart = Callable[[App], Awaitable[App]]


@pytest.fixture
async def restart(settings: Settings, clock: ManualClock) -> AsyncIterator[Restart]:
    """Closes the bot and opens it again on the same data, as a restart of the process would."""
    opened: list[App] = []

    async def again(previous: App) -> App:
        await previous.close()
        opened.append(await App.open(settings, clock))
        return opened[-1]

    yield again
    for app in opened:
        await app.close()


@pytest.fixture
def rider(app: App) -> Chat:
    return Chat(app, "rider")


UNPACED = Limits(chat_per_s=None)
"""Telegram's overall limit on, per-chat pacing off (it has a test of its own): a user walking
a flow receives several messages within a second, and tests should not wait for them."""


@asynccontextmanager
async def telegram_bot(
    server: FakeTelegram,
    data_dir: Path,
    clock: ManualClock,
    admin: int,
    limits: Limits,
    **settings_given: Any,
) -> AsyncIterator[TelegramRunner]:
    """The bot on Telegram, pointed at the local Bot API server, with one Telegram admin
    (and any other settings given)."""
    settings = Settings(
        data_dir=data_dir,
        admins=frozenset({f"telegram:{admin}"}),
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
        telegram_bot_username="nuanxin_bot",
        **settings_given,
    )
    app = await App.open(settings, clock)
    runner = TelegramRunner(app, settings, limits)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
        await app.close()


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    """A local Bot API server on a free loopback port."""
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


TELEGRAM_ADMIN = 900


@pytest.fixture
async def runner(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[TelegramRunner]:
    """The bot on the local Bot API server, with telegram:900 as its admin."""
    async with telegram_bot(server, tmp_path / "data", clock, TELEGRAM_ADMIN, UNPACED) as bot:
        yield bot
