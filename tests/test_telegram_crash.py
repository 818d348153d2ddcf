"""``nuanxin telegram`` as a process, killed with SIGKILL in the middle of a burst, on long
polling and on a webhook: Telegram delivers again whatever it was not told was received."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from storage import reports
from storage.db import Database
from tests.cli import start_telegram
from tests.conftest import TELEGRAM_ADMIN as ADMIN
from tests.fake_telegram import FakeTelegram
from tests.local_server import free_port

RIDERS = range(2000, 2016)
LATE = 2999
REF = re.compile(r"SQ-\d{8}-\d{4}")


def refs_told(server: FakeTelegram, rider: int) -> list[str]:
    return [m for c in server.sent_to(rider) for m in REF.findall(c.text) if "已提交" in c.text]


async def button(server: FakeTelegram, rider: int, count: int, label: str) -> str:
    """Waits for the rider's ``count``-th message, then finds the newest button like label."""
    sent = await server.wait_sent(rider, count)
    return next(d for c in reversed(sent) for text, d in c.buttons if label in text)


async def press(server: FakeTelegram, rider: int, count: int, label: str) -> None:
    """Waits for the rider's ``count``-th message, then presses what shows ``label``."""
    await server.wait_sent(rider, count)
    await server.press(rider, label)


async def to_summary(server: FakeTelegram, rider: int) -> str:
    """Walks one rider to the grievance summary; returns the confirm button's data."""
    await server.text(rider, "/grievance")
    await press(server, rider, 1, "饮水难")
    await server.text(rider, "没有地方喝水")
    await press(server, rider, 3, "跳过")
    await press(server, rider, 4, "跳过")
    await press(server, rider, 5, "匿名")
    return await button(server, rider, 6, "确认提交")


@pytest.mark.parametrize("receiving", ["polling", "webhook"])
async def test_a_killed_bot_loses_nothing_and_invents_nothing(
    server: FakeTelegram, tmp_path: Path, receiving: str
) -> None:
    data = tmp_path / "data"
    port = free_port() if receiving == "webhook" else None
    bot = await start_telegram(server, data, port)
    try:
        confirms = await asyncio.gather(*(to_summary(server, rider) for rider in RIDERS))
        await server.text(LATE, "/grievance")
        await press(server, LATE, 1, "饮水难")
        await server.wait_sent(LATE, 2)
        server.hold(after=2)
        for rider, confirm in zip(RIDERS, confirms, strict=True):
            await server.tap(rider, confirm)
        await server.wait_for(lambda: any(refs_told(server, r) for r in RIDERS))
        bot.kill()
        await bot.wait()
        server.release()

        bot = await start_telegram(server, data, port)
        await server.wait_for(lambda: all(refs_told(server, r) for r in RIDERS), within=30)
        await server.text(LATE, "冷饮机坏了")
        assert "有照片" in (await server.wait_sent(LATE, 3, within=30))[-1].text
    finally:
        bot.terminate()
        await bot.wait()

    db = await Database.open(data / "nuanxin.db")
    try:
        async with db.transaction() as tx:
            stored = [r.ref for r in await reports.of_kind(tx, "grievance")]
    finally:
        await db.close()
    assert len(stored) == len(set(stored)) == len(RIDERS)
    for rider in RIDERS:
        assert len(set(refs_told(server, rider))) == 1
    assert {refs_told(server, r)[0] for r in RIDERS} == set(stored)


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started (an export's own process), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def test_an_export_a_killed_bot_was_writing_is_sent_after_it_starts_again(
    server: FakeTelegram, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    bot = await start_telegram(server, data, admins=f"telegram:{ADMIN}")
    try:
        await server.text(ADMIN, "/export members csv")
        preparing = (await server.wait_sent(ADMIN, 1, within=30))[-1]
        assert "正在导出" in preparing.text
        for _ in range(500):
            if children_of(bot.pid):
                break
            await asyncio.sleep(0.01)
        assert children_of(bot.pid), "the export runs in a process of its own"
        bot.kill()
        await bot.wait()
        assert not [c for c in server.sent_to(ADMIN) if c.method == "sendDocument"]

        bot = await start_telegram(server, data, admins=f"telegram:{ADMIN}")
        await server.wait_for(
            lambda: any(c.method == "sendDocument" for c in server.sent_to(ADMIN)), within=60
        )
    finally:
        bot.terminate()
        await bot.wait()
    documents = [c for c in server.sent_to(ADMIN) if c.method == "sendDocument"]
    assert len(documents) == 1 and "亮身份骑手" in documents[0].text
