"""Identity declaration through the console transport's line handling and the real core."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from bot.events import Event, EventKind
from storage import conversations, declarations
from tests.chat import Chat, press

UP_TO_POLITICAL = (
    "/start",
    "tap:亮身份",
    "tap:同意",
    "张三",
    "+86 138-0013-8000",
    "tap:美团",
    "美团浦东张江站",
    "上海",
    "浦东新区",
)


async def declared(app: App, user: str = "console:rider") -> declarations.Declaration | None:
    async with app.db.transaction() as tx:
        return await declarations.get(tx, user)


async def draft_of(app: App, user: str = "console:rider") -> dict[str, object] | None:
    async with app.db.transaction() as tx:
        conv = await conversations.get(tx, user)
    return conv.draft if conv else None


async def test_party_member_declares_and_gets_a_badge(app: App, rider: Chat) -> None:
    asked = await rider.script(*UP_TO_POLITICAL, "tap:中共党员")
    assert "组织关系" in asked.last.text
    assert "流动党员党支部" in (await rider.say("江苏省盐城市某村党支部")).text
    await rider.tap("是")
    await rider.tap("兼职社会监督员")
    summary = await rider.tap("随手拍")
    assert "手机号：13800138000" in summary.text
    assert "组织关系所在：江苏省盐城市某村党支部" in summary.text
    done = await rider.tap("确认提交")
    assert "登记成功" in done.text
    badge = next(m.reply.photo for m in done.messages if m.reply.photo)
    assert badge is not None and badge.endswith(".png")
    stored = await declared(app)
    assert stored is not None
    assert (stored.name, stored.phone, stored.platform) == ("张三", "13800138000", "meituan")
    assert stored.political_status == "member" and stored.wants_branch is True
    assert stored.status == "pending"
    assert await draft_of(app) is None


async def test_non_member_skips_party_questions_and_can_write_a_pledge(
    app: App, rider: Chat
) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:群众")
    duty = await rider.tap("志愿者")
    assert "亮承诺" in duty.text
    summary = await rider.say("雨天慢一点，安全第一")
    assert "组织关系" not in summary.text
    await rider.tap("确认提交")
    stored = await declared(app)
    assert stored is not None
    assert stored.pledge == "雨天慢一点，安全第一"
    assert stored.party_registration is None and stored.wants_branch is None


async def test_refusing_consent_stores_nothing(app: App, rider: Chat) -> None:
    await rider.say("/declare")
    said = await rider.tap("不同意")
    assert "没有保存" in said.text
    assert await declared(app) is None
    assert await draft_of(app) is None


async def test_editing_status_from_summary_asks_only_what_is_newly_needed(
    app: App, rider: Chat
) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:群众", "tap:暂不", "tap:交通")
    await rider.tap("修改")
    await rider.tap("政治面貌")
    asked = await rider.tap("中共预备党员")
    assert "组织关系" in asked.text
    await rider.say("河南周口某镇党委")
    summary = await rider.tap("否")
    assert "政治面貌：中共预备党员" in summary.text
    assert "姓名：张三" in summary.text
    await rider.tap("确认提交")
    stored = await declared(app)
    assert stored is not None
    assert (stored.political_status, stored.wants_branch) == ("probationary", False)


async def test_bad_input_gets_a_hint_and_changes_nothing(app: App, rider: Chat) -> None:
    await rider.script("/declare", "tap:同意")
    before = await draft_of(app)
    hints = [
        (await rider.say("!contact 12345")).text,
        (await rider.say("!loc 31.2 121.5")).text,
        (await rider.say("x" * 31)).text,
    ]
    assert "不能为空" in (await rider.say("   ")).text
    assert "请直接打字" in hints[1]
    assert "太长了" in hints[2]
    assert await draft_of(app) == before
    assert "手机号" in (await rider.say("张三")).text
    assert "手机号不对" in (await rider.say("1234567")).text
    assert "手机号不对" in (await rider.say("!contact 23800138000")).text
    assert "平台" in (await rider.say("!contact 13800138000")).text
    assert "请点下面的按钮" in (await rider.say("!loc 31.2 121.5")).text
    draft = await draft_of(app)
    assert draft is not None and draft["phone"] == "13800138000" and "platform" not in draft


async def test_forged_and_stale_buttons_are_refused(app: App, rider: Chat) -> None:
    await rider.script("/declare", "tap:同意", "张三", "13800138000")
    async with app.db.transaction() as tx:
        conv = await conversations.get(tx, "console:rider")
    assert conv is not None
    before = dict(conv.draft)
    assert "按钮无效" in await press(app, f"{conv.token}:tesla")
    assert "按钮无效" in await press(app, "m:format-disk")
    assert await draft_of(app) == before
    await rider.say("/cancel")
    await rider.say("/declare")
    stale = await press(app, f"{conv.token}:yes")
    assert "过期" in stale and "同意吗" in stale
    assert await draft_of(app) == {}


async def test_an_abandoned_draft_expires_with_a_note(
    app: App, rider: Chat, clock: ManualClock
) -> None:
    await rider.script("/declare", "tap:同意", "张三")
    clock.advance(timedelta(minutes=61))
    said = await rider.say("13800138000")
    assert "已经清除" in said.text
    assert await draft_of(app) is None


async def test_a_declared_rider_views_updates_and_withdraws(app: App, rider: Chat) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:群众", "tap:暂不", "tap:交通", "tap:确认")
    badge = app.settings.media_dir / "badges"
    assert len(list(badge.iterdir())) == 1
    mine = await rider.say("/declare")
    assert "我的亮身份（待核实）" in mine.text and "姓名：张三" in mine.text
    summary = await rider.tap("更新")
    assert "请核对" in summary.text
    await rider.tap("修改")
    await rider.tap("站点")
    await rider.say("饿了么徐汇站")
    await rider.tap("确认提交")
    stored = await declared(app)
    assert stored is not None and stored.station == "饿了么徐汇站"
    await rider.say("/declare")
    await rider.tap("撤回")
    done = await rider.tap("是")
    assert "已删除" in done.text
    assert await declared(app) is None
    assert list(badge.iterdir()) == []


async def test_language_is_chosen_once_and_remembered(
    app: App, settings: Settings, clock: ManualClock
) -> None:
    rider = Chat(app, "rider")
    await rider.script("/declare", "tap:同意")
    switched = await rider.script("/lang", "tap:English")
    assert "Language set to English" in switched.text
    assert "Your name?" in switched.text
    reopened = await App.open(settings, clock)
    try:
        again = Chat(reopened, "rider")
        assert "Your mobile number" in (await again.say("Zhang San")).text
    finally:
        await reopened.close()


async def test_commands_mid_flow_keep_the_draft(app: App, rider: Chat) -> None:
    await rider.script("/declare", "tap:同意", "张三")
    busy = await rider.say("/report")
    assert "请先填完" in busy.text and "手机号" in busy.text
    helped = await rider.say("/help")
    assert "/cancel" in helped.text and "手机号" in helped.text
    assert "没有 /frobnicate" in (await rider.say("/frobnicate")).text
    draft = await draft_of(app)
    assert draft is not None and draft["name"] == "张三"


async def test_a_redelivered_update_changes_nothing(app: App) -> None:
    start = Event("console:rider", EventKind.COMMAND, command="declare", update_key="t:1")
    assert (await app.handle(start)).fresh is True
    first = await app.unsent("console")
    assert (await app.handle(start)).fresh is False
    assert await app.unsent("console") == first


async def test_an_internal_error_apologises_and_saves_nothing(app: App, rider: Chat) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:群众", "tap:暂不", "tap:交通")
    app.settings.media_dir.mkdir(parents=True)
    (app.settings.media_dir / "badges").write_text("not a folder")
    said = await rider.tap("确认提交")
    assert "抱歉" in said.text
    assert "Traceback" not in said.text
    assert await declared(app) is None
