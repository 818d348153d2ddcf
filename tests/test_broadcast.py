"""Broadcasts: preview and confirmation, audiences, progress edited in place, blocked riders."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.events import Outgoing
from bot.transports.telegram import UNLIMITED, Limits, TelegramRunner
from handlers.broadcast import AHEAD, CHUNK
from storage import users
from tests.chat import Chat
from tests.conftest import telegram_bot
from tests.fake_telegram import FakeTelegram
from tests.test_branches import branch_with_secretary

ADMIN = 900
RIDER = 41_000
RIDERS = range(20_000, 22_000)


async def test_an_admin_previews_confirms_and_sees_the_report(app: App) -> None:
    admin, secretary = Chat(app, "admin"), Chat(app, "sec")
    code = await branch_with_secretary(admin, "甲支部", "console:sec")
    await branch_with_secretary(admin, "乙支部", "console:sec2")
    members = [Chat(app, f"r{n}") for n in range(3)]
    for member in members:
        await member.say(f"/join {code}")
    outsider = Chat(app, "outsider")
    await outsider.say("/start")

    preview = await admin.script("/broadcast", "tap:一个支部", "tap:甲支部", "今晚八点线上党课")
    preview = await admin.tap("不紧急")
    assert "今晚八点线上党课" in preview.text and "确认" in " ".join(preview.labels())
    assert all(m.address == "admin" for m in preview.messages)
    sent = await admin.tap("确认提交")
    copies = [m for m in sent.messages if "今晚八点线上党课" in m.reply.text]
    assert sorted(m.address for m in copies) == ["r0", "r1", "r2"]
    reports = [r.text for r in sent.to("admin")]
    assert "共 3" in reports[0]
    assert reports[-1].startswith("✅ 群发完成：送达 3")

    asked = await secretary.say("/broadcast")
    assert "哪个支部" in asked.text and asked.labels() == ["🏠 甲支部", "⬅️ 上一步", "❌ 取消"]


@pytest.fixture
async def fast_runner(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[TelegramRunner]:
    """Telegram's flood limits lifted, so two thousand messages take seconds; 429s from the
    server still go through the rate limiter's retries."""
    async with telegram_bot(server, tmp_path / "data", clock, ADMIN, UNLIMITED) as runner:
        yield runner


async def broadcast(server: FakeTelegram, text: str) -> None:
    """The admin walks the flow over Telegram, each step answered before the next."""
    steps = (("say", "/broadcast"), ("tap", "所有骑手"), ("say", text), ("tap", "不紧急"))
    for action, value in (*steps, ("tap", "确认提交")):
        seen = server.sent_to(ADMIN)
        if action == "say":
            await server.text(ADMIN, value)
        else:
            await server.tap(ADMIN, next(d for t, d in seen[-1].buttons if value in t))
        await server.wait_sent(ADMIN, len(seen) + 1)


def copies(server: FakeTelegram, text: str) -> Counter[int]:
    return Counter(c.chat_id for c in server.calls if text in c.text and c.chat_id != ADMIN)


async def test_two_thousand_riders_are_each_reached_once_through_429s(
    server: FakeTelegram, fast_runner: TelegramRunner
) -> None:
    async with fast_runner.app.db.transaction() as tx:
        for rider in RIDERS:
            await users.touch(tx, f"telegram:{rider}", fast_runner.app.clock.now())
    blocked = {RIDERS[7], RIDERS[1500]}
    server.blocked |= blocked
    server.throttle["sendMessage"] = 3
    await broadcast(server, "暴雨预警，注意安全")
    await server.wait_for(lambda: any("群发完成" in c.text for c in server.sent_to(ADMIN)), 60)

    reached = copies(server, "暴雨预警")
    assert set(reached) == set(RIDERS) - blocked
    assert set(reached.values()) == {1}
    report = server.sent_to(ADMIN)[-1].text
    assert "送达 1998" in report and "屏蔽了机器人 2" in report
    progress = [c for c in server.sent_to(ADMIN) if c.method == "editMessageText"]
    assert progress and "共 2000" in progress[-1].text
    assert server.throttle["sendMessage"] == 0

    await broadcast(server, "明天降温")
    await server.wait_for(
        lambda: sum("群发完成" in c.text for c in server.sent_to(ADMIN)) == 2, 60
    )
    assert set(copies(server, "明天降温")) == set(RIDERS) - blocked
    assert not [c for c in server.refused if "明天降温" in c.text]


async def test_riders_are_answered_at_once_while_a_broadcast_drains_at_telegrams_rate(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    crowd = range(40_000, 40_600)
    limits = Limits(chat_per_s=None)
    async with telegram_bot(server, tmp_path / "data", clock, ADMIN, limits) as runner:
        async with runner.app.db.transaction() as tx:
            for rider in (*crowd, RIDER):
                await users.touch(tx, f"telegram:{rider}", runner.app.clock.now())
        await broadcast(server, "暴雨预警")
        await server.wait_for(lambda: len(copies(server, "暴雨预警")) >= 90, 10)
        assert RIDER not in copies(server, "暴雨预警"), "the rider's copy is still waiting"
        await server.text(RIDER, "/help")
        answers = await server.wait_sent(RIDER, 2, within=3)
        assert any("帮助" in answer.text for answer in answers)
        assert len(copies(server, "暴雨预警")) < 300, "the answer waited behind the copies"
        edits = [c for c in server.sent_to(ADMIN) if c.method == "editMessageText"]
        assert edits and "共 601" in edits[-1].text, "progress is shown as copies go out"


async def test_a_paid_broadcast_keeps_a_round_trips_worth_of_copies_on_the_wire(
    server: FakeTelegram, tmp_path: Path, clock: ManualClock
) -> None:
    """At a paid 1000 a second, copies that take a few hundred milliseconds to be answered
    need hundreds on the wire at once: a fixed handful would cap the broadcast far below the
    rate paid for."""
    crowd = range(40_000, 40_400)
    limits = Limits(overall_per_s=1000, chat_per_s=None)
    async with telegram_bot(server, tmp_path / "data", clock, ADMIN, limits) as runner:
        async with runner.app.db.transaction() as tx:
            for rider in crowd:
                await users.touch(tx, f"telegram:{rider}", runner.app.clock.now())
        await broadcast(server, "暴雨预警")
        server.hold(after=0)
        await server.wait_for(lambda: server.waiting >= 100, 10)
        server.release()
        await server.wait_for(lambda: len(copies(server, "暴雨预警")) == len(crowd), 20)
    sent = [call for call in server.calls if "暴雨预警" in call.text and call.chat_id != ADMIN]
    assert all(call.params.get("allow_paid_broadcast") == "true" for call in sent)


async def test_a_large_broadcast_is_queued_a_chunk_at_a_time(app: App) -> None:
    async with app.db.transaction() as tx:
        for n in range(1500):
            await users.touch(tx, f"console:crowd{n:04d}", app.clock.now())
    admin = Chat(app, "admin")
    await admin.script("/broadcast", "tap:所有骑手", "今晚有雨", "tap:紧急")
    confirmed = await admin.tap("确认提交")
    first = [m for m in confirmed.messages if "今晚有雨" in m.reply.text]
    assert len(first) == CHUNK, "the first chunk is queued with the confirmation"
    await app.run_due()
    queued: list[Outgoing] = []
    while batch := await app.unsent("console", after=queued[-1].id if queued else 0):
        queued += batch
    rest = [m for m in queued if "今晚有雨" in m.reply.text]
    everyone = [m.recipient for m in first + rest]
    assert len(everyone) == len(set(everyone)) == 1500
    assert all(m.bulk for m in rest)


async def test_copies_are_queued_as_delivery_needs_them_not_all_at_once(
    app: App, clock: ManualClock
) -> None:
    """A broadcast to a city queues its copies a chunk at a time while two thousand wait to
    be sent, so queuing never holds the database for long ahead of riders' answers."""
    async with app.db.transaction() as tx:
        for n in range(5000):
            await users.touch(tx, f"console:crowd{n:04d}", app.clock.now())
    admin = Chat(app, "admin")
    await admin.script("/broadcast", "tap:所有骑手", "今晚有雨", "tap:紧急", "tap:确认提交")

    async def waiting() -> list[Outgoing]:
        queued: list[Outgoing] = []
        while batch := await app.unsent("console", after=queued[-1].id if queued else 0):
            queued += batch
        return [m for m in queued if "今晚有雨" in m.reply.text]

    await app.run_due()
    assert len(await waiting()) == AHEAD == 2000
    await app.run_due()
    assert len(await waiting()) == 2000, "nothing more is queued while two thousand wait"
    sent = (await waiting())[:1500]
    for message in sent:
        await app.mark_sent(message.id)
    clock.advance(timedelta(seconds=1))
    await app.run_due()
    still = await waiting()
    assert len(still) == 2000
    assert not {m.recipient for m in sent} & {m.recipient for m in still}
