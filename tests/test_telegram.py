"""The real python-telegram-bot Application against a local Bot API server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.transports.telegram import TelegramRunner
from storage import reports
from tests import images
from tests.fake_telegram import TOKEN, Call, FakeTelegram

RIDER, ADMIN = 501, 900


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot_app(server: FakeTelegram, tmp_path: Path, clock: ManualClock) -> AsyncIterator[App]:
    settings = Settings(
        data_dir=tmp_path / "data",
        admins=frozenset({f"telegram:{ADMIN}"}),
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
    )
    app = await App.open(settings, clock)
    runner = TelegramRunner(app, settings)
    await runner.start()
    yield app
    await runner.stop()
    await app.close()


def data_of(call: Call, label: str) -> str:
    return next(data for text, data in call.buttons if label in text)


async def test_a_rider_declares_over_telegram_with_buttons_and_a_shared_contact(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.text(RIDER, "/start")
    menu = (await server.wait_sent(RIDER, 1))[-1]
    assert "暖新" in menu.text
    await server.tap(RIDER, data_of(menu, "亮身份"))
    consent = (await server.wait_sent(RIDER, 2))[-1]
    assert "同意吗" in consent.text
    await server.tap(RIDER, data_of(consent, "同意"))
    await server.text(RIDER, "张三")
    sent = await server.wait_sent(RIDER, 4)
    keyboard = json.loads(sent[-1].params["reply_markup"])
    assert keyboard["keyboard"][0][0]["request_contact"] is True
    await server.contact(RIDER, "+8613800138000")
    platform = (await server.wait_sent(RIDER, 5))[-1]
    assert "哪个平台" in platform.text
    answered = [c for c in server.calls if c.method == "answerCallbackQuery"]
    assert len(answered) == 2


async def test_a_hazard_photo_is_downloaded_checked_and_filed(
    server: FakeTelegram, bot_app: App, tmp_path: Path
) -> None:
    picture = images.photo(tmp_path / "p.jpg", gps=(31.2304, 121.4737)).read_bytes()
    await server.text(RIDER, "/report")
    ask = (await server.wait_sent(RIDER, 1))[-1]
    await server.tap(RIDER, data_of(ask, "食品安全"))
    await server.wait_sent(RIDER, 2)
    await server.photo(RIDER, picture)
    got = (await server.wait_sent(RIDER, 3))[-1]
    assert "收到第1张" in got.text
    await server.photo(
        RIDER, images.photo(tmp_path / "d.jpg", seed=7).read_bytes(), as_document=True
    )
    got = (await server.wait_sent(RIDER, 4))[-1]
    assert "收到第2张" in got.text
    await server.tap(RIDER, data_of(got, "照片好了"))
    await server.wait_sent(RIDER, 6)
    await server.location(RIDER, 31.2304, 121.4737)
    skip = (await server.wait_sent(RIDER, 7))[-1]
    await server.tap(RIDER, data_of(skip, "跳过"))
    summary = (await server.wait_sent(RIDER, 8))[-1]
    assert "照片：2张" in summary.text
    await server.tap(RIDER, data_of(summary, "确认提交"))
    sent = await server.wait_sent(RIDER, 9)
    assert "YH-" in sent[8].text
    alert = await server.wait_sent(ADMIN, 1)
    assert "新随手拍" in alert[0].text
    assert [c for c in server.calls if c.method == "getFile"]
    assert not list((bot_app.settings.data_dir / "downloads").iterdir())


async def test_a_redelivered_update_is_handled_once(server: FakeTelegram, bot_app: App) -> None:
    update = {"update_id": 777, "message": server._message(RIDER, text="/help")}
    await server.push(dict(update))
    await server.wait_sent(RIDER, 1)
    await server.push(json.loads(json.dumps(update)))
    await server.text(RIDER, "/lang")
    sent = await server.wait_sent(RIDER, 2)
    await server.text(RIDER, "/cancel")
    sent = await server.wait_sent(RIDER, 3)
    assert ["帮助" in sent[0].text, "语言" in sent[1].text, "取消" in sent[2].text] == [True] * 3
    assert len(sent) == 3


async def test_stale_and_forged_buttons_are_answered_not_crashed(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.tap(RIDER, "deadbe:yes")
    await server.tap(RIDER, "x" * 64)
    sent = await server.wait_sent(RIDER, 2)
    assert "过期" in sent[0].text and "过期" in sent[1].text
    await server.wait_for(
        lambda: len([c for c in server.calls if c.method == "answerCallbackQuery"]) == 2
    )


async def test_rate_limited_sends_are_retried(server: FakeTelegram, bot_app: App) -> None:
    server.throttle["sendMessage"] = 3
    await server.text(RIDER, "/start")
    sent = await server.wait_sent(RIDER, 1)
    assert "暖新" in sent[0].text
    assert server.throttle["sendMessage"] == 0


async def test_each_chat_is_handled_in_order_while_chats_run_side_by_side(
    server: FakeTelegram, bot_app: App
) -> None:
    riders = range(1000, 1020)
    for rider in riders:
        await server.text(rider, "/grievance")
    for rider in riders:
        ask = (await server.wait_sent(rider, 1))[-1]
        await server.tap(rider, data_of(ask, "饮水难"))
        await server.text(rider, f"{rider} 没有地方喝水")
        await server.text(rider, "/cancel")
    for rider in riders:
        sent = await server.wait_sent(rider, 4)
        assert "具体情况" in sent[1].text
        assert "有照片" in sent[2].text
        assert "已取消" in sent[3].text
    async with bot_app.db.transaction() as tx:
        assert await reports.of_kind(tx, "grievance") == []


async def test_command_menus_are_set_per_role(server: FakeTelegram, bot_app: App) -> None:
    menus = [c for c in server.calls if c.method == "setMyCommands"]
    default = [
        json.loads(c.params["commands"])
        for c in menus
        if json.loads(c.params["scope"])["type"] == "default"
    ]
    admin = [
        json.loads(c.params["commands"])
        for c in menus
        if json.loads(c.params["scope"]) == {"type": "chat", "chat_id": ADMIN}
    ]
    assert default and admin
    assert "setstatus" not in [c["command"] for c in default[0]]
    assert "setstatus" in [c["command"] for c in admin[0]]
    assert {"report", "grievance", "declare"} <= {c["command"] for c in default[0]}
