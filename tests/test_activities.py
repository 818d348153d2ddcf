"""Branch activities: invitations, RSVP, reminders, check-in, recurrence, restarts."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.transports.telegram import TelegramRunner
from storage import branches
from storage.branches import NewBranch
from tests.chat import Chat
from tests.conftest import Restart
from tests.fake_telegram import FakeTelegram
from tests.test_branches import branch_with_secretary, new_branch
from tests.test_telegram_branches import expect, walk
from tests.test_timers import pushes

PLACE = (31.2304, 121.4737)
TWO_KM_NORTH = (31.2484, 121.4737)


@pytest.fixture
def clock() -> ManualClock:
    """A Monday afternoon, three days before the National Day holiday."""
    return ManualClock(datetime(2026, 9, 28, 15, 0, tzinfo=CHINA))


async def monthly_activity(app: App) -> tuple[Chat, Chat, str]:
    """A branch with two riders and a monthly themed party day on the 1st at 09:00; returns
    the riders and the check-in code."""
    admin, secretary = Chat(app, "admin"), Chat(app, "sec")
    code = await branch_with_secretary(admin, "张江站支部", "console:sec")
    riders = Chat(app, "r0"), Chat(app, "r1")
    for rider in riders:
        await rider.say(f"/join {code}")
    await secretary.script("/newactivity", "主题党日：走进红色场馆", "tap:主题党日", "10-01 09:00")
    await secretary.script(f"!loc {PLACE[0]} {PLACE[1]}", "tap:张江站支部", "tap:每月")
    created = await secretary.tap("确认提交")
    match = re.search(r"签到码：(\d{4})", created.text)
    assert match and "已邀请 2 人" in created.text, created.text
    invitation = created.to("r0")[0]
    assert "走进红色场馆" in invitation.text and "10-01 09:00" in invitation.text
    assert [b.label for b in invitation.flat_buttons()] == ["✅ 参加", "🙅 来不了"]
    return riders[0], riders[1], match.group(1)


async def at(app: App, clock: ManualClock, moment: datetime) -> list[str]:
    clock.set(moment)
    await app.run_due()
    return await pushes(app, "console:r0")


async def test_invitations_reminders_and_check_in_across_the_holiday_and_month_end(
    app: App, clock: ManualClock
) -> None:
    going, not_going, code = await monthly_activity(app)
    assert "已报名" in (await going.tap("参加")).text
    assert "不参加" in (await not_going.tap("来不了")).text

    day_before = await at(app, clock, datetime(2026, 9, 30, 9, 0, tzinfo=CHINA))
    assert [t.splitlines()[0] for t in day_before] == ["⏰ 提醒：您报名的活动 24 小时后开始。"]
    hour_before = await at(app, clock, datetime(2026, 10, 1, 8, 0, tzinfo=CHINA))
    assert [t.splitlines()[0] for t in hour_before] == ["⏰ 提醒：您报名的活动 1 小时后开始。"]

    next_month = await at(app, clock, datetime(2026, 10, 1, 9, 10, tzinfo=CHINA))
    assert any("11-01 09:00" in t and "活动邀请" in t for t in next_month)
    too_far = await going.script("/checkin", f"!loc {TWO_KM_NORTH[0]} {TWO_KM_NORTH[1]}")
    assert re.search(r"还有 20\d\d 米", too_far.text), too_far.text
    assert "签到成功" in (await going.say(f"!loc {PLACE[0]} {PLACE[1]}")).text
    wrong = f"{(int(code) + 1) % 10_000:04d}"
    assert "签到码不对" in (await not_going.script("/checkin", wrong)).text
    assert "签到成功" in (await not_going.say(code)).text

    report = (await Chat(app, "sec").say("/activities")).text
    assert "报名 1 人：console:r0" in report
    assert "签到 2 人" in report and f"签到码：{code}" in report

    exported = (await Chat(app, "admin").say("/export attendance csv")).last.document
    assert exported is not None
    text = await asyncio.to_thread(Path(exported).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["user"], r["answer"], r["method"]) for r in rows] == [
        ("console:r0", "yes", "location"),
        ("console:r1", "no", "code"),
    ]


async def test_reminders_survive_a_restart_and_are_sent_once(
    app: App, clock: ManualClock, restart: Restart
) -> None:
    going, _, _ = await monthly_activity(app)
    await going.tap("参加")
    await pushes(app, "")
    clock.set(datetime(2026, 9, 30, 9, 0, tzinfo=CHINA))
    second = await restart(app)
    await second.run_due()
    assert len([t for t in await pushes(second, "console:r0") if "24 小时后" in t]) == 1
    third = await restart(second)
    await third.run_due()
    assert await pushes(third, "console:r0") == []


async def test_a_reminder_missed_while_the_bot_was_down_is_skipped_once_the_activity_began(
    app: App, clock: ManualClock
) -> None:
    going, _, _ = await monthly_activity(app)
    await going.tap("参加")
    await pushes(app, "")
    sent = await at(app, clock, datetime(2026, 10, 1, 9, 30, tzinfo=CHINA))
    assert not [t for t in sent if "提醒" in t]
    assert any("11-01 09:00" in t for t in sent)


async def test_an_invitation_during_the_riders_peak_waits_until_it_ends(
    app: App, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 9, 28, 12, 0, tzinfo=CHINA))
    admin, secretary = Chat(app, "admin"), Chat(app, "sec")
    code = await branch_with_secretary(admin, "张江站支部", "console:sec")
    await Chat(app, "r0").say(f"/join {code}")
    await secretary.script("/newactivity", "急救培训", "tap:急救消防培训", "10-08 19:00")
    await secretary.script("tap:跳过", "腾讯会议 123-456-789", "tap:张江站支部", "tap:不重复")
    created = await secretary.tap("确认提交")
    assert created.to("r0") == []
    released = await at(app, clock, datetime(2026, 9, 28, 13, 30, tzinfo=CHINA))
    assert any("腾讯会议 123-456-789" in t for t in released)


async def test_over_telegram_a_member_accepts_is_reminded_and_checks_in(
    server: FakeTelegram, runner: TelegramRunner, clock: ManualClock
) -> None:
    secretary, rider = 700, 501
    async with runner.app.db.transaction() as tx:
        branch = await branches.create(
            tx, NewBranch("ZJ0001", "张江站支部", "station", "浦东新区"), clock.now()
        )
        await branches.appoint(tx, branch.id, f"telegram:{secretary}", "test", clock.now())
    await walk(server, rider, ("say", "/join ZJ0001", "已加入"))
    await walk(
        server,
        secretary,
        ("say", "/newactivity", "活动叫什么"),
        ("say", "交通安全教育课", "什么类型"),
        ("tap", "交通安全教育", "什么时候开始"),
        ("say", "09-29 15:00", "在哪里"),
    )
    await server.location(secretary, *PLACE)
    await expect(server, secretary, "哪个支部")
    await walk(
        server,
        secretary,
        ("tap", "张江站支部", "重复吗"),
        ("tap", "不重复", "核对活动"),
        ("tap", "确认提交", "签到码"),
    )
    invitation = await expect(server, rider, "活动邀请")
    assert "交通安全教育课" in invitation.text
    await walk(server, rider, ("tap", "参加", "已报名"))

    clock.set(datetime(2026, 9, 29, 14, 0, tzinfo=CHINA))
    await runner.scheduler.fire()
    await expect(server, rider, "1 小时后开始")
    clock.set(datetime(2026, 9, 29, 15, 5, tzinfo=CHINA))
    await walk(server, rider, ("say", "/checkin", "签到"))
    await server.location(rider, *PLACE)
    await expect(server, rider, "签到成功")


async def test_an_activity_of_an_organisation_invites_the_members_of_every_branch_below(
    app: App,
) -> None:
    admin, secretary = Chat(app, "admin"), Chat(app, "sec")
    committee = await branch_with_secretary(
        admin, "浦东新区快递外卖行业党委", "console:sec", kind="行业党委"
    )
    station = await new_branch(admin, "张江站支部", parent=committee)
    market = await new_branch(admin, "张江市场支部", kind="专业市场", parent=committee)
    other = await new_branch(admin, "别区支部")
    for rider, code in (("r0", station), ("r1", market), ("r2", other)):
        await Chat(app, rider).say(f"/join {code}")
    await secretary.script("/newactivity", "集中学习", "tap:主题党日", "10-01 09:00")
    await secretary.script(f"!loc {PLACE[0]} {PLACE[1]}", "tap:行业党委", "tap:不重复")
    created = await secretary.tap("确认提交")
    assert "已邀请 2 人" in created.text
    assert created.to("r0") and created.to("r1") and not created.to("r2")
