"""Conversations that forgive: leaving a form, going back a step, asking for the menu in the
middle of one, checking in twice. Read as a rider would live them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.config import Settings
from handlers.buttons import Malformed, pack, unpack
from tests.chat import Chat, press
from tests.test_activities import PLACE, monthly_activity
from tests.test_declaration import declared, draft_of

DECLARE = ("/start", "tap:亮身份", "tap:同意")


async def test_typing_cancel_at_the_name_step_leaves_the_form_instead_of_being_the_name(
    app: App, rider: Chat
) -> None:
    for word in ("取消", "退出", "算了", "Cancel", "取消。"):
        await rider.script(*DECLARE)
        left = await rider.say(word)
        assert "已取消「亮身份登记」" in left.text, word
        assert await draft_of(app) is None and await declared(app) is None


async def test_every_step_offers_cancel_and_back_after_the_first(app: App, rider: Chat) -> None:
    name = await rider.script(*DECLARE)
    assert name.labels()[-1] == "❌ 取消"
    phone = await rider.say("张三")
    assert phone.labels()[-2:] == ["⬅️ 上一步", "❌ 取消"]
    again = await rider.tap("上一步")
    assert "姓名" in again.text
    assert "name" not in (await draft_of(app) or {})
    assert "手机" in (await rider.say("李四")).text
    assert (await draft_of(app) or {}).get("name") == "李四"
    assert "已取消" in (await rider.tap("取消")).text
    assert await draft_of(app) is None


async def test_start_or_menu_in_the_middle_of_a_form_leaves_it_and_shows_the_menu(
    app: App, rider: Chat
) -> None:
    for command in ("/start", "/menu"):
        await rider.script(*DECLARE, "张三")
        shown = await rider.say(command)
        assert "已取消「亮身份登记」" in shown.text and "随手拍" in " ".join(shown.labels())
        assert await draft_of(app) is None


async def test_checking_in_twice_says_so_instead_of_asking_again(
    app: App, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 9, 28, 15, 0, tzinfo=CHINA))
    going, _, _ = await monthly_activity(app)
    await going.tap("参加")
    clock.set(datetime(2026, 10, 1, 9, 10, tzinfo=CHINA))
    assert "签到成功" in (await going.script("/checkin", f"!loc {PLACE[0]} {PLACE[1]}")).text
    again = await going.say("/checkin")
    assert "已经签到过" in again.text
    assert await draft_of(app, "console:r0") is None


async def test_text_is_taken_as_people_type_it(app: App, rider: Chat) -> None:
    await rider.script(*DECLARE)
    for invisible in ("\u200b\u200b", "\u202e\u2066", "\x07\x1b"):
        refused = await rider.say(invisible)
        assert "不能为空" in refused.text, refused.text
        assert "name" not in (await draft_of(app) or {})
    await rider.say("\u202e三张")
    assert (await draft_of(app) or {}).get("name") == "三张"
    asked = await rider.say("１３８００１３８０００")
    assert (await draft_of(app) or {}).get("phone") == "13800138000", asked.text


async def test_a_time_already_past_is_refused_not_moved_to_next_year(app: App) -> None:
    admin = Chat(app, "admin")
    await admin.script("/newactivity", "主题党日", "tap:主题党日")
    for gone in ("12-01 09:00", "2026-11-30 09:00", "11-15 09:00"):
        assert "已经过去" in (await admin.say(gone)).text, gone
    assert "已经过去" not in (await admin.say("01-05 09:00")).text
    draft = await draft_of(app, "console:admin") or {}
    assert str(draft["when"]).startswith("2027-01-05T01:00")


async def test_a_few_wrong_check_in_codes_then_a_wait(app: App, clock: ManualClock) -> None:
    clock.set(datetime(2026, 9, 28, 15, 0, tzinfo=CHINA))
    _, rider, code = await monthly_activity(app)
    clock.set(datetime(2026, 10, 1, 9, 10, tzinfo=CHINA))
    wrong = f"{(int(code) + 1) % 10_000:04d}"
    await rider.say("/checkin")
    for _ in range(5):
        assert "签到码不对" in (await rider.say(wrong)).text
    assert "10 分钟后再试" in (await rider.say(code)).text
    clock.advance(timedelta(minutes=10))
    assert "签到成功" in (await rider.say(code)).text


async def test_a_report_nobody_can_handle_yet_says_so_to_the_rider(
    tmp_path: Path, clock: ManualClock
) -> None:
    app = await App.open(Settings(data_dir=tmp_path / "alone"), clock)
    try:
        rider = Chat(app, "rider")
        await rider.script("/grievance", "tap:饮水难", "没有饮水点", "tap:跳过", "tap:跳过")
        filed = await rider.script("tap:可以显示", "tap:确认提交")
        assert "还没有书记或管理员负责处理" in filed.text
    finally:
        await app.close()


async def test_an_admin_appointed_in_chat_can_be_dismissed_and_is_told(app: App) -> None:
    admin, other = Chat(app, "admin"), Chat(app, "zhao")
    await admin.say("/appoint admin console:zhao")
    assert "没有权限" not in (await other.say("/stats")).text
    dismissed = await admin.say("/dismiss admin console:zhao")
    assert "不再是管理员" in dismissed.text
    assert any("不再是管理员" in r.text for r in dismissed.to("zhao"))
    assert "没有权限" in (await other.say("/stats")).text
    refused = await admin.say("/dismiss admin console:admin")
    assert "NUANXIN_ADMINS" in refused.text


async def test_help_lists_each_person_their_own_commands(app: App) -> None:
    rider_help = (await Chat(app, "rider").say("/help")).text
    assert "/stations — " in rider_help and "/whoami — " in rider_help
    assert "/pending" not in rider_help and "/stats" not in rider_help
    admin_help = (await Chat(app, "admin").say("/help")).text
    assert "/pending — " in admin_help and "/stats — " in admin_help
    assert "/setstatus — " in admin_help


@pytest.mark.parametrize(
    "forged",
    [
        "m:rsvp:1:garbage:yes",
        "m:rsvp:x:202610010900:yes",
        "m:rsvp:1:202610010900:maybe",
        "m:act:explode:YH-20261201-0001",
        "m:act:ack",
        "m:decl:ok",
        "m:decl:burn:console:rider",
        "m:rate:SQ-20261201-0001:11",
        "m:rate",
    ],
)
async def test_forged_or_malformed_button_data_is_an_expired_button(app: App, forged: str) -> None:
    assert "按钮已经过期" in await press(app, forged, "console:admin")
    answer = await press(app, forged, "console:rider")
    assert "按钮已经过期" in answer or "没有权限" in answer, answer


def test_button_data_is_packed_and_unpacked_by_type() -> None:
    data = pack("rsvp", 12, "202610010900", "yes")
    assert data == "m:rsvp:12:202610010900:yes" and len(data.encode()) <= 64
    _, _, argument = data.split(":", 2)
    assert unpack(argument, int, str, frozenset({"yes", "no"})) == (12, "202610010900", "yes")
    assert unpack("ok:telegram:42", frozenset({"ok"}), str) == ("ok", "telegram:42")
    for bad in ("１２:202610010900:yes", "99999999999999999999:x:yes", "12:x"):
        with pytest.raises(Malformed):
            unpack(bad, int, str, frozenset({"yes", "no"}))


async def test_an_english_summary_reads_as_english(app: App, rider: Chat) -> None:
    await rider.say("/lang en")
    await rider.script("/grievance", "tap:No drinking water", "no water near the station")
    summary = await rider.script("tap:Skip", "tap:Skip", "tap:Show my name")
    assert "Description: no water near the station\nPhotos: 0" in summary.text
    assert "：" not in summary.text and "，" not in summary.text
