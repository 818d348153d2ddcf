"""Rider, secretary and admin over Telegram: the real Application against the local server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.transports.telegram import TelegramRunner
from tests.conftest import UNPACED, telegram_bot
from tests.fake_telegram import Call, FakeTelegram

ADMIN, SECRETARY, RIDER = 900, 700, 501


@pytest.fixture
async def runner(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[TelegramRunner]:
    async with telegram_bot(server, tmp_path / "data", clock, ADMIN, UNPACED) as started:
        yield started


async def expect(server: FakeTelegram, user: int, fragment: str) -> Call:
    """Waits for a message to ``user`` containing ``fragment``; returns the newest such."""
    await server.wait_for(lambda: any(fragment in c.text for c in server.sent_to(user)))
    return next(c for c in reversed(server.sent_to(user)) if fragment in c.text)


async def tap(server: FakeTelegram, user: int, label: str) -> None:
    """Taps the newest button like ``label`` the user was shown."""
    data = next(
        d for c in reversed(server.sent_to(user)) for text, d in c.buttons if label in text
    )
    await server.tap(user, data)


async def test_rider_secretary_and_admin_over_telegram(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    await server.text(ADMIN, "/newbranch")
    await expect(server, ADMIN, "叫什么名字")
    await server.text(ADMIN, "美团张江站支部")
    await expect(server, ADMIN, "依托在哪里")
    await tap(server, ADMIN, "网点站点")
    await expect(server, ADMIN, "哪个区")
    await server.text(ADMIN, "浦东新区")
    await expect(server, ADMIN, "上级组织")
    await tap(server, ADMIN, "无")
    await expect(server, ADMIN, "核对支部")
    await tap(server, ADMIN, "确认提交")
    created = await expect(server, ADMIN, "支部码：")
    assert created.method == "sendPhoto"
    code = re.search(r"支部码：([A-Z0-9]{6})", created.text)
    assert code
    await server.text(ADMIN, f"/appoint {code.group(1)} telegram:{SECRETARY}")
    welcome = await expect(server, SECRETARY, "书记")
    assert welcome.method == "sendPhoto"

    await server.text(RIDER, f"/start join-{code.group(1)}")
    await expect(server, RIDER, "已加入「美团张江站支部」")
    await server.text(RIDER, "/grievance")
    await expect(server, RIDER, "遇到了什么困难")
    await tap(server, RIDER, "饮水难")
    await expect(server, RIDER, "说说具体情况")
    await server.text(RIDER, "站点附近没有饮水点")
    await expect(server, RIDER, "有照片")
    await tap(server, RIDER, "跳过")
    await expect(server, RIDER, "在哪里")
    await tap(server, RIDER, "跳过")
    await expect(server, RIDER, "能看到您的名字吗")
    await tap(server, RIDER, "可以显示我的名字")
    await expect(server, RIDER, "请核对诉求")
    await tap(server, RIDER, "确认提交")
    filed = await expect(server, RIDER, "诉求已提交")
    ref = re.search(r"SQ-\d{8}-\d{4}", filed.text)
    assert ref

    card = await expect(server, SECRETARY, ref.group(0))
    assert "站点附近没有饮水点" in card.text
    await tap(server, SECRETARY, "属实，受理")
    await expect(server, RIDER, "已受理")
    await tap(server, SECRETARY, "已解决")
    await expect(server, SECRETARY, "是怎么解决的")
    await server.text(SECRETARY, "已协调站点旁便利店免费接水")
    resolved = await expect(server, RIDER, "已协调站点旁便利店免费接水")
    assert "5⭐" in [label for label, _ in resolved.buttons]
    await tap(server, RIDER, "5⭐")
    await expect(server, RIDER, "谢谢评价")

    await server.text(ADMIN, "/stats")
    figures = await expect(server, ADMIN, "满意率")
    assert figures.method == "sendPhoto"
    assert "响应率 100%" in figures.text and "满意率 100%" in figures.text

    await server.tap(RIDER, f"m:act:ack:{ref.group(0)}")
    await server.wait_for(
        lambda: any("没有权限" in c.params.get("text", "") for c in server.calls)
    )
