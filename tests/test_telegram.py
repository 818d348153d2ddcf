"""The real python-telegram-bot Application against a local Bot API server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.events import Reply, Venue
from bot.transports.delivery import ChatPace
from bot.transports.telegram import Limits, TelegramRunner
from handlers.actions import Role
from handlers.registry import build_registry
from storage import conversations, outbox, reports
from tests import images
from tests.chat import Chat
from tests.conftest import TELEGRAM_ADMIN as ADMIN
from tests.conftest import telegram_bot
from tests.fake_telegram import TOKEN, Call, FakeTelegram

RIDER = 501


@pytest.fixture
def bot_app(runner: TelegramRunner) -> App:
    return runner.app


async def queue(runner: TelegramRunner, recipient: str, *replies: Reply) -> int:
    """Puts messages in the outbox in one transaction, as a flow would, and wakes the
    delivery; returns the first one's id."""
    async with runner.app.db.transaction() as tx:
        ids = [await outbox.add(tx, recipient, r, runner.app.clock.now()) for r in replies]
    runner.delivery.wake.set()
    return ids[0]


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
    where = (await server.wait_sent(RIDER, 5))[-1]
    assert where.keys == ["📷 用照片里的位置", "⬅️ 上一步", "❌ 取消"]
    await server.location(RIDER, 31.2304, 121.4737)
    skip = (await server.wait_sent(RIDER, 6))[-1]
    await server.tap(RIDER, data_of(skip, "跳过"))
    summary = (await server.wait_sent(RIDER, 7))[-1]
    assert "照片：2张" in summary.text
    await server.tap(RIDER, data_of(summary, "确认提交"))
    sent = await server.wait_sent(RIDER, 8)
    assert "YH-" in sent[7].text
    alert = await server.wait_sent(ADMIN, 2)
    assert [c.method for c in alert] == ["sendPhoto", "sendPhoto"]
    assert "随手拍 YH-" in alert[0].text and "照片 2/2" in alert[1].text
    assert "✅ 属实，受理" in [label for label, _ in alert[0].buttons]
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
    await server.wait_for(
        lambda: len([c for c in server.calls if c.method == "answerCallbackQuery"]) == 2
    )
    alerts = [c.params for c in server.calls if c.method == "answerCallbackQuery"]
    assert all(a["show_alert"] == "true" for a in alerts)
    assert "过期" in alerts[0]["text"] and "过期" in alerts[1]["text"]
    assert server.sent_to(RIDER) == []


async def test_a_rider_pressing_an_admin_button_gets_an_alert_and_nothing_changes(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.tap(RIDER, "m:setstatus:YH-20261201-0001 resolved")
    await server.wait_for(lambda: any(c.method == "answerCallbackQuery" for c in server.calls))
    alert = next(c.params for c in server.calls if c.method == "answerCallbackQuery")
    assert "权限" in alert["text"]
    assert server.sent_to(RIDER) == []


async def test_rate_limited_sends_are_retried(server: FakeTelegram, bot_app: App) -> None:
    server.throttle["sendMessage"] = 2
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
    """Set beside the polling, once the bot is receiving: riders' first, then each staff's."""
    await server.wait_for(
        lambda: sum(c.method == "setMyCommands" for c in server.calls) >= 4, within=10
    )
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
    registry = build_registry()
    for role in Role:
        for command in registry.commands(role):
            action = registry.by_command(command)
            assert action is not None, command
            assert role is Role.ADMIN or action.role in (Role.RIDER, role), command
    riders = registry.commands(Role.RIDER)
    assert "stations" in riders and "whoami" in riders and "pending" not in riders


async def test_the_webhook_refuses_requests_without_the_secret(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    import socket

    import aiohttp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path / "data",
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
        telegram_webhook_secret=Secret("s3cret-token"),
    )
    app = await App.open(settings, clock)
    runner = TelegramRunner(app, settings)
    await runner.start("https://bot.example.org/telegram", f"127.0.0.1:{port}")
    try:
        set_hook = next(c for c in server.calls if c.method == "setWebhook")
        assert set_hook.params["url"] == "https://bot.example.org/telegram"
        assert set_hook.params["secret_token"] == "s3cret-token"
        update = {"update_id": 5, "message": server._message(RIDER, text="/start")}
        url = f"http://127.0.0.1:{port}/telegram"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update) as bare:
                assert bare.status == 403
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with session.post(url, json=update, headers=wrong) as guessed:
                assert guessed.status == 403
            right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with session.post(url, json=update, headers=right) as accepted:
                assert accepted.status == 200
        sent = await server.wait_sent(RIDER, 1)
        assert len(sent) == 1 and "暖新" in sent[0].text
    finally:
        await runner.stop()
        await app.close()


async def test_a_webhook_without_a_secret_is_refused_at_start(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    from bot.transports.telegram import TelegramStartError

    settings = Settings(
        data_dir=tmp_path / "d",
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
    )
    app = await App.open(settings, clock)
    try:
        with pytest.raises(TelegramStartError, match="TELEGRAM_WEBHOOK_SECRET"):
            await TelegramRunner(app, settings).start("https://x.example/telegram", "127.0.0.1:1")
    finally:
        await app.close()


def test_a_missing_or_rejected_token_is_one_line_and_non_zero(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NUANXIN_"))}
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "telegram"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0
    assert missing.stderr.strip() == "nuanxin: TELEGRAM_BOT_TOKEN is not set"


async def test_a_rejected_token_is_one_line_and_non_zero(
    server: FakeTelegram, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "999:not-the-token",
        "TELEGRAM_API_URL": server.api_url,
        "TELEGRAM_FILE_URL": server.file_url,
        "NUANXIN_DATA_DIR": str(tmp_path / "d"),
    }
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "telegram",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(bot.communicate(), 60)
    assert bot.returncode == 1
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("nuanxin: Telegram rejected the token")


async def test_a_progress_message_is_edited_in_place_and_only_its_last_count_is_sent(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    first = await queue(runner, f"telegram:{ADMIN}", Reply(text="已发送 0 / 3"))
    await server.wait_sent(ADMIN, 1)
    await queue(
        runner,
        f"telegram:{ADMIN}",
        Reply(text="已发送 1 / 3", edit_of=first),
        Reply(text="已发送 3 / 3", edit_of=first),
    )
    await server.wait_for(lambda: "已发送 3 / 3" in server.shown.values())
    calls = [(c.method, c.text) for c in server.sent_to(ADMIN)]
    assert calls == [("sendMessage", "已发送 0 / 3"), ("editMessageText", "已发送 3 / 3")]
    assert len(server.shown) == 1


async def test_an_edit_of_a_message_never_delivered_arrives_as_a_new_message(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    server.blocked.add(ADMIN)
    first = await queue(runner, f"telegram:{ADMIN}", Reply(text="已发送 0 / 3"))
    await server.wait_for(lambda: bool(server.refused))
    server.blocked.clear()
    await queue(runner, f"telegram:{ADMIN}", Reply(text="已发送 3 / 3", edit_of=first))
    sent = await server.wait_sent(ADMIN, 1)
    assert [(c.method, c.text) for c in sent] == [("sendMessage", "已发送 3 / 3")]


async def test_a_venue_reply_opens_on_the_map(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    station = Venue(31.2304, 121.4737, "暖新驿站（人民广场）", "黄浦区人民大道 200 号")
    await queue(runner, f"telegram:{RIDER}", Reply(text="最近的驿站", venue=station))
    venue = (await server.wait_sent(RIDER, 1))[0]
    assert venue.method == "sendVenue"
    assert venue.params["title"] == "暖新驿站（人民广场）"
    assert float(venue.params["latitude"]) == 31.2304


def test_one_chat_gets_a_short_burst_then_one_message_a_second() -> None:
    now = [100.0]
    pace = ChatPace(Limits(chat_burst=3, chat_per_s=1.0).pace, clock=lambda: now[0])
    assert [pace.delay("501") for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert pace.delay("502") == 0.0
    now[0] += 10
    assert [pace.delay("501") for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


async def test_telegram_is_reached_through_the_proxy_the_environment_names(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where Telegram is out of reach, the bot goes through HTTP_PROXY / HTTPS_PROXY."""
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.port}")
    settings = Settings(
        data_dir=tmp_path / "data",
        telegram_token=Secret(TOKEN),
        telegram_api_url="http://api.telegram.invalid/bot",
        telegram_file_url="http://api.telegram.invalid/file/bot",
    )
    app = await App.open(settings, clock)
    runner = TelegramRunner(app, settings)
    await runner.start()
    try:
        await server.text(RIDER, "/start")
        assert "暖新" in (await server.wait_sent(RIDER, 1))[0].text
    finally:
        await runner.stop()
        await app.close()


async def test_a_location_prompt_is_one_message_whose_keys_act_as_its_buttons(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.text(RIDER, "/grievance")
    await server.wait_sent(RIDER, 1)
    await server.press(RIDER, "饮水难")
    await server.wait_sent(RIDER, 2)
    await server.text(RIDER, "没有地方喝水")
    await server.wait_sent(RIDER, 3)
    await server.press(RIDER, "跳过")
    where = (await server.wait_sent(RIDER, 4))[-1]
    keyboard = json.loads(where.params["reply_markup"])["keyboard"]
    assert keyboard[0][0]["request_location"] is True
    assert where.keys == ["⏭ 跳过", "⬅️ 上一步", "❌ 取消"] and not where.buttons
    await server.press(RIDER, "跳过")
    sent = await server.wait_sent(RIDER, 5)
    assert "名字" in sent[4].text
    await server.text(RIDER, "/cancel")
    await server.wait_sent(RIDER, 6)
    await server.press(RIDER, "跳过")
    assert "按钮已经过期" in (await server.wait_sent(RIDER, 7))[-1].text
    async with bot_app.db.transaction() as tx:
        assert not await reports.of_kind(tx, "grievance")


async def test_an_edited_answer_corrects_the_last_step_and_an_older_one_is_explained(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.text(RIDER, "/declare")
    await server.wait_sent(RIDER, 1)
    await server.press(RIDER, "同意")
    await server.wait_sent(RIDER, 2)
    await server.text(RIDER, "张山")
    name_message = server.last_message_of(RIDER)
    asked_phone = (await server.wait_sent(RIDER, 3))[-1]
    assert "手机" in asked_phone.text
    await server.edit(RIDER, name_message, "张三")
    corrected = await server.wait_sent(RIDER, 5)
    assert "姓名改成了：张三" in corrected[3].text and "手机" in corrected[4].text
    await server.text(RIDER, "13800138000")
    await server.wait_sent(RIDER, 6)
    await server.edit(RIDER, name_message, "李四")
    explained = (await server.wait_sent(RIDER, 8))[-2]
    assert "点「⬅️ 上一步」" in explained.text
    async with bot_app.db.transaction() as tx:
        conv = await conversations.get(tx, f"telegram:{RIDER}")
    assert conv is not None
    assert conv.draft["name"] == "张三" and conv.draft["phone"] == "13800138000"


async def test_a_live_location_is_taken_once_and_its_moves_are_not_answered(
    server: FakeTelegram, bot_app: App
) -> None:
    await server.text(RIDER, "/stations")
    await server.wait_sent(RIDER, 1)
    shared = await server.live_location(RIDER, 31.2304, 121.4737)
    await server.wait_sent(RIDER, 2)
    for step in range(1, 4):
        await server.move(RIDER, shared, 31.2304 + step / 1000, 121.4737)
    await server.text(RIDER, "/help")
    answers = await server.wait_sent(RIDER, 3)
    assert "没看懂" not in " ".join(a.text for a in answers)
    assert "/cancel" in answers[2].text


async def test_an_album_is_one_answer_and_what_is_over_the_limit_is_said_once(
    server: FakeTelegram, bot_app: App, tmp_path: Path
) -> None:
    await server.text(RIDER, "/report")
    ask = (await server.wait_sent(RIDER, 1))[-1]
    await server.tap(RIDER, data_of(ask, "食品安全"))
    await server.wait_sent(RIDER, 2)
    pictures = [images.photo(tmp_path / f"{n}.jpg", seed=n).read_bytes() for n in range(3)]
    await server.album(RIDER, pictures)
    got = (await server.wait_sent(RIDER, 3))[-1]
    assert "收到 3 张" in got.text and "没有收" not in got.text
    more = [images.photo(tmp_path / f"m{n}.jpg", seed=10 + n).read_bytes() for n in range(4)]
    await server.album(RIDER, [*more[:3], b"not a picture"])
    answer = (await server.wait_sent(RIDER, 4))[-1]
    assert "收到 5 张" in answer.text and "另外 2 张没有收" in answer.text
    await server.tap(RIDER, data_of(answer, "照片好了"))
    sent = await server.wait_sent(RIDER, 5)
    assert ["收到 3 张" in sent[2].text, "收到 5 张" in sent[3].text] == [True, True]
    keyboard = json.loads(sent[4].params["reply_markup"])["keyboard"]
    assert keyboard[0][0]["request_location"] is True, "the next step, not another photo reply"
    async with bot_app.db.transaction() as tx:
        conv = await conversations.get(tx, f"telegram:{RIDER}")
    assert conv is not None and len(conv.draft["photos"]) == 5


async def test_a_flood_of_alerts_becomes_one_summary_with_a_way_to_the_list(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    admins = frozenset({f"telegram:{ADMIN}"})
    filing = await App.open(Settings(data_dir=data, admins=admins), clock)
    try:
        for n in range(20):
            rider = Chat(filing, f"r{n}")
            asked = await rider.script("/grievance", "tap:饮水难")
            if "同类诉求" in asked.text:
                await rider.tap("新问题")
            await rider.script(f"第{n}个站点没有水", "tap:跳过", "tap:跳过", "tap:可以显示")
            assert "SQ-" in (await rider.tap("确认提交")).text
    finally:
        await filing.close()
    paced = Limits(overall_per_s=0, chat_burst=3, chat_per_s=0.05)
    async with telegram_bot(server, data, clock, ADMIN, paced):
        [summary] = await server.wait_sent(ADMIN, 1)
        assert "20 件新事项" in summary.text and "还有 15 件" in summary.text
        assert summary.text.count("• ") == 5
        assert [label for label, _ in summary.buttons] == ["📥 查看待处理"]
        await server.tap(ADMIN, summary.buttons[0][1])
        listed = (await server.wait_sent(ADMIN, 2))[-1]
        assert "待处理 20 件" in listed.text
    assert len(server.sent_to(ADMIN)) == 2


async def test_an_export_is_sent_as_a_document_and_not_kept_on_the_server(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    await server.text(ADMIN, "/export members csv")
    await server.text(ADMIN, "/export members csv unmasked")
    sent = await server.wait_sent(ADMIN, 4)
    assert [call.method for call in sent] == ["sendMessage", "sendDocument"] * 2
    assert "正在导出" in sent[0].text
    await runner.delivery.idle()
    exports = runner.app.settings.data_dir / "exports"
    left = await asyncio.to_thread(lambda: list(exports.glob("*")) if exports.exists() else [])
    assert left == []


async def test_a_file_larger_than_telegram_takes_becomes_a_note_saying_where_to_get_it(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    exports = runner.app.settings.data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    huge = exports / "hazards-20261201.csv"
    with huge.open("wb") as sparse:
        sparse.truncate(51 * 1024 * 1024)
    await queue(runner, f"telegram:{ADMIN}", Reply(text="📤 随手拍，请查收。", document=str(huge)))
    told = (await server.wait_sent(ADMIN, 1))[-1]
    assert told.method == "sendMessage"
    assert "51.0 MB" in told.text and "网页工作台" in told.text and "nuanxin export" in told.text
    await runner.delivery.idle()
    assert not huge.exists()
    assert not [c for c in server.calls if c.method == "sendDocument"]
