"""Nothing a rider sends is lost: kept before it is acknowledged, handled once the database
takes writes again, and the process honest about what it cannot do."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.events import Reply
from bot.serving import StorageGaveUp, serve
from bot.transports.telegram import TelegramRunner
from storage import outbox
from tests import images
from tests.conftest import UNPACED, telegram_bot
from tests.fake_telegram import TOKEN, FakeTelegram

RIDER = 4242


async def refuse_writes(app: App) -> None:
    """The database takes no more writes, as with a full disk (reads still work)."""
    async with app.db.reading() as tx:
        await tx.execute("PRAGMA query_only = ON")


async def allow_writes(app: App) -> None:
    async with app.db.reading() as tx:
        await tx.execute("PRAGMA query_only = OFF")


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.json()


def webhook_settings(server: FakeTelegram, data: Path) -> Settings:
    return Settings(
        data_dir=data,
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
        telegram_webhook_secret=Secret("s3cret"),
    )


@asynccontextmanager
async def webhook_bot(
    server: FakeTelegram, settings: Settings, clock: ManualClock, url: str
) -> AsyncIterator[TelegramRunner]:
    app = await App.open(settings, clock)
    runner = TelegramRunner(app, settings)
    await runner.start(url, "127.0.0.1:0")
    try:
        yield runner
    finally:
        await runner.stop()
        await app.close()


async def post_update(port: int, path: str, update: dict[str, object], secret: str) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}{path}", json=update, headers=headers) as answer,
    ):
        return answer.status


async def test_long_polling_confirms_nothing_the_database_did_not_take(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    await refuse_writes(runner.app)
    update_id = await server.text(RIDER, "/start")
    await asyncio.sleep(1.5)
    assert server.confirmed <= update_id, "confirmed to Telegram although it was not kept"
    assert server.sent_to(RIDER) == []

    await allow_writes(runner.app)
    answer = await server.wait_sent(RIDER, 1, within=40)
    assert "暖新" in answer[0].text
    await server.wait_for(lambda: server.confirmed > update_id, within=40)


async def test_the_webhook_answers_200_only_for_what_it_kept_at_the_path_it_registered(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    settings = webhook_settings(server, tmp_path / "data")
    async with webhook_bot(server, settings, clock, "https://example.org/tg") as runner:
        registered = next(c for c in server.calls if c.method == "setWebhook")
        assert registered.params["url"] == "https://example.org/tg"
        update = {"update_id": 77, "message": server._message(RIDER, text="/start")}

        await refuse_writes(runner.app)
        assert await post_update(runner.port, "/tg", update, "s3cret") == 500
        status, health = await get(f"http://127.0.0.1:{runner.port}/healthz")
        assert status == 503 and health["database_writable"] is False

        await allow_writes(runner.app)
        assert await post_update(runner.port, "/tg", update, "s3cret") == 200
        assert await post_update(runner.port, "/tg", update, "s3cret") == 200
        await server.wait_sent(RIDER, 1)
        status, health = await get(f"http://127.0.0.1:{runner.port}/healthz")
        assert status == 200 and health["database_writable"] is True
        assert health["last_update_handled"] is not None
        await runner.intake.idle()
        await runner.delivery.idle()
    assert len(server.sent_to(RIDER)) == 1, "a redelivered update was answered twice"


async def test_the_webhook_checks_the_secret_before_the_body_and_refuses_large_bodies(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    settings = webhook_settings(server, tmp_path / "data")
    async with webhook_bot(server, settings, clock, "https://example.org/tg") as runner:
        url = f"http://127.0.0.1:{runner.port}/tg"
        huge = b"x" * (8 * 1024 * 1024)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=io.BytesIO(huge)) as unsigned:
                assert unsigned.status == 403
            signed = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            async with session.post(url, data=io.BytesIO(huge), headers=signed) as oversized:
                assert oversized.status == 413
            async with session.post(url, data=b"{not json", headers=signed) as garbled:
                assert garbled.status == 400
            async with session.post(f"http://127.0.0.1:{runner.port}/telegram") as elsewhere:
                assert elsewhere.status == 404
    assert server.sent_to(RIDER) == []


async def test_messages_queued_while_the_disk_is_full_all_go_out_once_it_is_not(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    app = runner.app
    server.hold(after=1)
    async with app.db.transaction() as tx:
        for n in range(20):
            await outbox.add(tx, f"telegram:{RIDER}", Reply(text=f"卡片 {n}"), app.clock.now())
    runner.delivery.wake.set()
    await server.wait_sent(RIDER, 1)
    await refuse_writes(app)
    server.release()
    await asyncio.sleep(1.5)
    await allow_writes(app)
    sent = await server.wait_sent(RIDER, 20, within=40)
    await runner.delivery.idle()
    texts = [c.text for c in server.sent_to(RIDER)]
    assert texts == [f"卡片 {n}" for n in range(20)], "a card was lost, repeated or reordered"
    assert len(sent) == 20


async def test_a_slow_answer_is_waited_for_and_not_sent_twice(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    server.slow["sendMessage"] = 6.5
    await server.text(RIDER, "/start")
    await server.wait_sent(RIDER, 1, within=30)
    await server.text(RIDER, "/help")
    await server.wait_sent(RIDER, 2, within=30)
    await runner.delivery.idle()
    assert len(server.sent_to(RIDER)) == 2


async def test_a_photo_that_never_arrives_gets_a_clear_answer_quickly(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with telegram_bot(server, data, clock, 900, UNPACED, download_timeout_s=1.0):
        await server.text(RIDER, "/report")
        await server.wait_sent(RIDER, 1)
        await server.press(RIDER, "食品")
        await server.wait_sent(RIDER, 2)
        picture = images.photo(tmp_path / "p.jpg").read_bytes()
        await server.photo(RIDER, picture, stall=True)
        stalled = (await server.wait_sent(RIDER, 3, within=10))[-1]
        assert "没收到" in stalled.text
        server.failing.add("getFile")
        await server.photo(RIDER, picture)
        refused = (await server.wait_sent(RIDER, 4, within=10))[-1]
        assert "没收到" in refused.text
        server.failing.discard("getFile")
        await server.text(RIDER, "/help")
        helped = (await server.wait_sent(RIDER, 5, within=10))[-1]
        assert "没收到" not in helped.text


async def test_a_button_carrying_an_oversized_number_is_an_unknown_button(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    await server.tap(RIDER, "m:rsvp:99999999999999999999999:yes")
    await server.wait_for(
        lambda: any(c.method == "answerCallbackQuery" for c in server.calls), within=10
    )
    answer = next(c for c in server.calls if c.method == "answerCallbackQuery")
    assert "系统出了点问题" not in answer.params.get("text", "")
    assert "按钮" in answer.params.get("text", "")


async def test_the_bot_stops_after_too_many_refused_writes_in_a_row(
    server: FakeTelegram, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        telegram_token=Secret(TOKEN),
        telegram_api_url=server.api_url,
        telegram_file_url=server.file_url,
        max_storage_failures=3,
    )

    async def launch(app: App) -> TelegramRunner:
        runner = TelegramRunner(app, settings, UNPACED)
        await runner.start()
        await refuse_writes(app)
        await server.text(RIDER, "/start")
        return runner

    with pytest.raises(StorageGaveUp, match="refused 3 writes in a row"):
        await asyncio.wait_for(serve(settings, launch), 30)


async def test_health_on_long_polling_tells_the_outbox_is_stalled(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    async with telegram_bot(server, tmp_path / "data", clock, 900, UNPACED) as runner:
        health = runner.app.health
        server.hold(after=0)
        update_id = await server.text(RIDER, "/start")
        await server.wait_for(lambda: server.confirmed > update_id)
        await runner.intake.idle()
        report = await health()
        assert report.ok and report.oldest_unsent_s is not None
        clock.advance(runner.settings.outbox_stall * 2)
        report = await health()
        assert not report.ok and report.outbox_stalled
        assert json.loads(report.to_json())["status"] == "unhealthy"
        server.release()
        await server.wait_sent(RIDER, 1)
        await runner.delivery.idle()
        assert (await health()).ok


async def test_downloads_that_drip_never_hold_up_another_riders_answer(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    data = tmp_path / "data"
    async with telegram_bot(server, data, clock, 900, UNPACED, download_timeout_s=8.0):
        picture = images.photo(tmp_path / "p.jpg").read_bytes()
        senders = range(5000, 5040)
        for sender in senders:
            await server.photo(sender, picture, as_document=True, stall=True)
        await asyncio.sleep(0.5)
        await server.text(RIDER, "/help")
        started = asyncio.get_running_loop().time()
        await server.wait_sent(RIDER, 1, within=5)
        assert asyncio.get_running_loop().time() - started < 3
        assert all(server.sent_to(sender) == [] for sender in senders)
