"""Deadlines in working days, escalation, quiet hours, digests — on a controlled clock, across
restarts of the bot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.config import Settings
from bot.events import Event, EventKind
from bot.transports.telegram import TelegramRunner
from storage import outbox, reports, users
from tests.chat import Chat
from tests.conftest import TELEGRAM_ADMIN as ADMIN
from tests.conftest import Restart
from tests.fake_telegram import FakeTelegram
from tests.test_branches import branch_with_secretary
from tests.test_broadcast import broadcast
from tests.test_reports import ref_in

COMMITTEE_SECRETARY, DISTRICT_SECRETARY = "console:committee", "console:district"


@pytest.fixture
def clock() -> ManualClock:
    """The afternoon before the National Day holiday (2026-10-01 … 10-07)."""
    return ManualClock(datetime(2026, 9, 30, 15, 0, tzinfo=CHINA))


async def tree(admin: Chat) -> str:
    """District → industry committee → station branch, each with a secretary; returns the
    station branch's code."""
    district = await branch_with_secretary(
        admin, "浦东区委", DISTRICT_SECRETARY, kind="区级党组织"
    )
    committee = await branch_with_secretary(
        admin, "新业态党委", COMMITTEE_SECRETARY, kind="行业党委", parent=district
    )
    return await branch_with_secretary(admin, "张江站支部", "console:sec", parent=committee)


async def grievance(rider: Chat) -> tuple[str, str]:
    await rider.script("/grievance", "tap:饮水难", "没有地方喝水", "tap:跳过", "tap:跳过")
    done = await rider.script("tap:可以显示", "tap:确认提交")
    return ref_in(done.text, "SQ"), done.text


async def pushes(app: App, user: str) -> list[str]:
    """What the console would now print for ``user``."""
    sent = await app.unsent("console")
    for message in sent:
        await app.mark_sent(message.id)
    return [m.reply.text for m in sent if m.recipient == user]


async def at(app: App, clock: ManualClock, moment: datetime) -> None:
    clock.set(moment)
    await app.run_due()


async def test_a_late_item_climbs_the_tree_and_the_rider_knows_when_to_expect_an_answer(
    app: App, clock: ManualClock
) -> None:
    admin, rider = Chat(app, "admin"), Chat(app, "rider")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    ref, confirmation = await grievance(rider)
    assert "最晚 10-13 前答复您" in confirmation  # 10-10 is a make-up working day
    filed = await reports_get(app, ref)
    assert filed.ack_due_at == datetime(2026, 10, 8, 15, 0, tzinfo=CHINA)
    await pushes(app, "console:sec")

    await at(app, clock, datetime(2026, 10, 8, 11, 0, tzinfo=CHINA))
    assert any("10-08 15:00 前受理" in t for t in await pushes(app, "console:sec"))

    await at(app, clock, datetime(2026, 10, 8, 15, 0, tzinfo=CHINA))
    sent = await app.unsent("console")
    to_committee = [m.reply.text for m in sent if m.recipient == COMMITTEE_SECRETARY]
    assert any(f"{ref} 超时未受理" in t for t in to_committee)
    assert not [m for m in sent if m.recipient == DISTRICT_SECRETARY]
    await pushes(app, "")
    assert "⏰ " + ref in (await Chat(app, "sec").say("/pending")).text
    assert (await reports_get(app, ref)).overdue_level == 1

    await at(app, clock, datetime(2026, 10, 9, 15, 0, tzinfo=CHINA))
    assert any(f"{ref} 超时未受理" in t for t in await pushes(app, DISTRICT_SECRETARY))
    assert (await reports_get(app, ref)).overdue_level == 2
    await at(app, clock, datetime(2026, 10, 13, 15, 0, tzinfo=CHINA))
    late_answer = await pushes(app, COMMITTEE_SECRETARY)
    assert sum(f"{ref} 超时未答复" in t for t in late_answer) == 1


async def reports_get(app: App, ref: str) -> reports.Report:
    async with app.db.transaction() as tx:
        found = await reports.get(tx, ref)
    assert found is not None
    return found


async def test_an_item_handled_in_time_raises_no_alarm(app: App, clock: ManualClock) -> None:
    admin, rider, secretary = Chat(app, "admin"), Chat(app, "rider"), Chat(app, "sec")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    ref, _ = await grievance(rider)
    await secretary.script("/pending", f"tap:{ref}", "tap:属实，受理")
    await pushes(app, "")
    await at(app, clock, datetime(2026, 10, 9, 15, 0, tzinfo=CHINA))
    assert not [t for t in await pushes(app, COMMITTEE_SECRETARY) if "超时未" in t]
    assert (await reports_get(app, ref)).overdue_level == 0


async def test_timers_survive_a_restart_and_never_fire_twice(
    app: App, clock: ManualClock, restart: Restart
) -> None:
    admin, rider = Chat(app, "admin"), Chat(app, "rider")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    ref, _ = await grievance(rider)
    await pushes(app, "")
    clock.set(datetime(2026, 10, 8, 15, 0, tzinfo=CHINA))
    second = await restart(app)
    await second.run_due()
    first_run = await pushes(second, COMMITTEE_SECRETARY)
    assert sum(f"{ref} 超时未受理" in t for t in first_run) == 1
    third = await restart(second)
    assert await third.run_due() == 0
    assert await pushes(third, COMMITTEE_SECRETARY) == []


async def test_quiet_hours_hold_a_broadcast_until_the_peak_ends_and_urgent_ones_pass(
    app: App, clock: ManualClock
) -> None:
    admin = Chat(app, "admin")
    riders = [Chat(app, f"r{n}") for n in range(3)]
    for rider in riders:
        await rider.say("/start")
    await pushes(app, "")
    clock.set(datetime(2026, 10, 9, 12, 0, tzinfo=CHINA))

    held = await admin.script("/broadcast", "tap:所有骑手", "周末有义诊", "tap:不紧急")
    held = await admin.tap("确认提交")
    assert "13:30 高峰结束后发出" in held.text
    assert not [m for m in held.messages if "周末有义诊" in m.reply.text]
    urgent = await admin.script("/broadcast", "tap:所有骑手", "暴雨红色预警", "tap:🚨 紧急")
    urgent = await admin.tap("确认提交")
    warned = sorted(m.address for m in urgent.messages if "暴雨" in m.reply.text)
    assert warned == ["r0", "r1", "r2"]

    await at(app, clock, datetime(2026, 10, 9, 13, 29, tzinfo=CHINA))
    assert not [t for t in await pushes(app, "console:r0") if "义诊" in t]
    await at(app, clock, datetime(2026, 10, 9, 13, 30, tzinfo=CHINA))
    released = await app.unsent("console")
    copies = sorted(m.recipient for m in released if "周末有义诊" in m.reply.text)
    assert copies == ["console:r0", "console:r1", "console:r2"]
    await pushes(app, "")
    await at(app, clock, datetime(2026, 10, 9, 14, 0, tzinfo=CHINA))
    assert not [m for m in await app.unsent("console") if "周末有义诊" in m.reply.text]


async def test_each_secretary_gets_a_morning_digest_and_a_missed_one_is_skipped(
    app: App, clock: ManualClock
) -> None:
    admin, rider = Chat(app, "admin"), Chat(app, "rider")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    await grievance(rider)
    await pushes(app, "")
    await at(app, clock, datetime(2026, 10, 8, 8, 0, tzinfo=CHINA))
    digest = await pushes(app, "console:sec")
    assert digest == ["🗓 今日待办：新收到 0 件，快到期 1 件，已超时 0 件。发 /pending 查看。"]
    await at(app, clock, datetime(2026, 10, 9, 21, 0, tzinfo=CHINA) + timedelta(hours=1))
    assert not [t for t in await pushes(app, "console:sec") if "今日待办" in t]


async def test_over_telegram_the_scheduler_releases_what_the_quiet_hours_held(
    server: FakeTelegram, runner: TelegramRunner, clock: ManualClock
) -> None:
    async with runner.app.db.transaction() as tx:
        for rider in (601, 602):
            await users.touch(tx, f"telegram:{rider}", clock.now())
    clock.set(datetime(2026, 10, 9, 12, 0, tzinfo=CHINA))
    await broadcast(server, "周末有义诊")
    await server.wait_for(lambda: any("高峰结束后" in c.text for c in server.sent_to(ADMIN)))
    release = datetime(2026, 10, 9, 13, 30, tzinfo=CHINA)
    await runner.scheduler.fire()
    assert runner.scheduler.planned == release
    assert server.sent_to(601) == []

    clock.set(release)
    await runner.scheduler.fire()
    for rider in (601, 602):
        assert "周末有义诊" in (await server.wait_sent(rider, 1))[0].text
    await server.wait_for(lambda: any("群发完成" in c.text for c in server.sent_to(ADMIN)))
    assert runner.scheduler.planned != release


async def test_the_nightly_sweep_forgets_old_deliveries_but_not_what_riders_filed(
    app: App, clock: ManualClock
) -> None:
    rider = Chat(app, "rider")
    ref, _ = await grievance(rider)
    start = Event("console:rider", EventKind.COMMAND, command="start", update_key="telegram:1")
    assert (await app.handle(start)).fresh
    await pushes(app, "")

    await at(app, clock, datetime(2026, 10, 10, 4, 0, tzinfo=CHINA))
    assert not (await app.handle(start)).fresh
    async with app.db.transaction() as tx:
        assert await outbox.to_recipient(tx, "console:rider") != []

    await at(app, clock, datetime(2026, 10, 31, 4, 0, tzinfo=CHINA))
    async with app.db.transaction() as tx:
        assert await outbox.to_recipient(tx, "console:rider") == []
        assert await reports.get(tx, ref) is not None
    assert (await app.handle(start)).fresh


async def test_the_alarm_rings_after_the_apps_delay_even_when_its_clock_is_elsewhere(
    runner: TelegramRunner, clock: ManualClock
) -> None:
    """This test's clock stands two months before the machine's: the nightly sweep is due at
    03:30 tomorrow by it, and the alarm must not ring at once (and again, and again)."""
    assert runner.scheduler.planned == datetime(2026, 10, 1, 3, 30, tzinfo=CHINA)
    alarm = runner.scheduler.alarm
    assert alarm is not None
    ahead = alarm - datetime.now(CHINA)
    assert timedelta(hours=12) < ahead < timedelta(hours=13)


@pytest.mark.parametrize(
    ("declared", "answer_by"),
    [
        ({}, "12-08"),
        ({date(2026, 12, 3): False, date(2026, 12, 4): False, date(2026, 12, 5): True}, "12-09"),
    ],
)
async def test_days_the_operator_declares_win_over_the_official_calendar(
    tmp_path: Path, declared: dict[date, bool], answer_by: str
) -> None:
    """A local day off (a typhoon, a city's own holiday) and a make-up Saturday: what an
    operator declares in NUANXIN_CALENDAR_FILE moves the deadline the rider is told."""
    settings = Settings(
        data_dir=tmp_path / "data", admins=frozenset({"console:admin"}), calendar=declared
    )
    app = await App.open(settings, ManualClock(datetime(2026, 12, 1, 15, 0, tzinfo=CHINA)))
    try:
        admin, rider = Chat(app, "admin"), Chat(app, "rider")
        await rider.say(f"/join {await branch_with_secretary(admin, '张江站支部', 'console:sec')}")
        _, confirmation = await grievance(rider)
        assert f"最晚 {answer_by} 前答复您" in confirmation
    finally:
        await app.close()
