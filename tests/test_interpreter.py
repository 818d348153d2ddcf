"""The database's thread gets the interpreter's lock within a millisecond of asking."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.app import App
from bot.config import Settings
from bot.interpreter import SWITCH_S


async def test_an_opened_bot_hands_the_interpreter_over_within_a_millisecond(
    tmp_path: Path,
) -> None:
    app = await App.open(Settings(data_dir=tmp_path / "data"))
    try:
        assert sys.getswitchinterval() == SWITCH_S == 0.001
    finally:
        await app.close()
