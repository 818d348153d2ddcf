"""Fixtures: each test gets its own data folder, database and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.config import Settings
from tests.chat import Chat
from tests.fake_telegram import FakeTelegram


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


@pytest.fixture
def rider(app: App) -> Chat:
    return Chat(app, "rider")


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    """A local Bot API server on a free loopback port."""
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()
