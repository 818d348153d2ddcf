"""Branches, secretaries and admins through the console transport and the real core."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.app import App
from handlers.registry import build_registry
from storage import audit, declarations, points
from tests import images
from tests.chat import Chat, press
from tests.test_declaration import UP_TO_POLITICAL
from tests.test_reports import PEOPLES_SQUARE, ref_in, report_of
from tests.test_reports import file_hazard as file_hazard_at

SECRETARY, OTHER_SECRETARY = "console:sec", "console:sec2"


@pytest.fixture
def admin(app: App) -> Chat:
    return Chat(app, "admin")


@pytest.fixture
def secretary(app: App) -> Chat:
    return Chat(app, "sec")


async def new_branch(
    admin: Chat, name: str, kind: str = "网点站点", district: str = "浦东新区", parent: str = ""
) -> str:
    """Creates a branch through the chat flow and returns its join code."""
    await admin.script("/newbranch", name, f"tap:{kind}", district)
    if parent:
        await admin.say(parent)
    else:
        await admin.tap("无")
    done = await admin.tap("确认提交")
    match = re.search(r"支部码：([A-Z0-9]{6})", done.text)
    assert match, done.text
    return match.group(1)


async def branch_with_secretary(admin: Chat, name: str, secretary: str, **kw: str) -> str:
    code = await new_branch(admin, name, **kw)
    appointed = await admin.say(f"/appoint {code} {secretary}")
    assert "书记" in appointed.text
    return code


async def declare_party_member(rider: Chat) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:中共党员", "江苏省盐城市某村党支部")
    await rider.script("tap:是", "tap:兼职社会监督员", "tap:随手拍", "tap:确认提交")


async def file_hazard(rider: Chat, folder: Path) -> str:
    picture = images.photo(folder / "hazard.jpg")
    return await file_hazard_at(rider, picture, PEOPLES_SQUARE)


async def test_the_whole_chain_rider_secretary_admin(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    code = await branch_with_secretary(admin, "美团张江站支部", SECRETARY)
    joined = await rider.say(f"/join {code}")
    assert "已加入「美团张江站支部」" in joined.text
    assert [r.text for r in joined.to("sec")] == ["👋 有骑手加入了「美团张江站支部」。"]
    empty = await new_branch(admin, "空支部")
    listed = (await admin.say("/branches")).text
    assert f"{code} 美团张江站支部" in listed and "书记 1｜成员 1" in listed
    assert f"{empty} 空支部" in listed and "书记 0｜成员 0" in listed

    await declare_party_member(rider)
    pending = await secretary.say("/pending")
    assert "核实 张三" in pending.text
    card = await secretary.tap("核实 张三")
    assert "手机：138****8000" in card.text
    verified = await secretary.tap("核实无误")
    assert "已核实 张三" in verified.text
    assert "已经支部书记核实" in verified.to("rider")[0].text
    async with app.db.transaction() as tx:
        stored = await declarations.get(tx, "console:rider")
    assert stored is not None and stored.status == "verified"

    ref = await file_hazard(rider, tmp_path)
    alert = await secretary.say("/pending")
    assert ref in alert.text
    accepted = await secretary.script(f"tap:{ref}", "tap:属实，受理")
    told = accepted.to("rider")
    assert any("已受理" in r.text for r in told)
    assert any("获得 10 积分" in r.text for r in told)
    resolved = await secretary.script("tap:已解决", "已通知商家更换冷柜")
    rating = resolved.to("rider")[-1]
    assert "已通知商家更换冷柜" in rating.text
    assert "5⭐" in [b.label for b in rating.flat_buttons()]
    await rider.script("tap:5⭐", "tap:跳过")
    assert (await report_of(app, ref)).status == "closed"
    assert "积分：10" in (await rider.say("/points")).text

    async with app.db.transaction() as tx:
        actions = [(e.actor, e.action, e.target) for e in await audit.entries(tx)]
    assert ("console:sec", "declaration_verified", "console:rider") in actions
    assert ("console:sec", "report_acknowledged", ref) in actions
    assert ("console:sec", "report_resolved", ref) in actions


async def test_a_secretary_of_one_branch_cannot_see_or_touch_another(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    await branch_with_secretary(admin, "甲支部", SECRETARY)
    other = await branch_with_secretary(admin, "乙支部", OTHER_SECRETARY)
    await rider.say(f"/join {other}")
    await declare_party_member(rider)
    ref = await file_hazard(rider, tmp_path)
    assert "没有待处理" in (await secretary.say("/pending")).text
    for data in (f"m:act:ack:{ref}", f"m:act:show:{ref}", "m:decl:ok:console:rider"):
        assert "没有权限" in await press(app, data, SECRETARY)
    assert (await report_of(app, ref)).status == "submitted"
    async with app.db.transaction() as tx:
        stored = await declarations.get(tx, "console:rider")
    assert stored is not None and stored.status == "pending"


async def test_an_anonymous_griever_stays_anonymous_to_the_secretary(
    app: App, admin: Chat, secretary: Chat, rider: Chat
) -> None:
    code = await branch_with_secretary(admin, "甲支部", SECRETARY)
    await rider.say(f"/join {code}")
    await declare_party_member(rider)
    await rider.script("/grievance", "tap:饮水难", "没有地方喝水", "tap:跳过", "tap:跳过")
    done = await rider.script("tap:匿名", "tap:确认提交")
    ref = ref_in(done.text, "SQ")
    card = done.to("sec")[0]
    assert "提交人：匿名" in card.text and "张三" not in card.text
    await secretary.script("/pending", f"tap:{ref}", "tap:不予受理", "不属于本支部")
    async with app.db.transaction() as tx:
        logged = " ".join(f"{e.target} {e.detail}" for e in await audit.entries(tx))
    assert ref in logged and "console:rider" not in logged
    exported = await admin.script("/export grievances json")
    document = exported.last.document
    assert document is not None
    rows = json.loads(await asyncio.to_thread(Path(document).read_text, encoding="utf-8"))
    assert [(r["ref"], r["reporter"]) for r in rows] == [(ref, None)]


async def test_forwarding_climbs_to_the_organisation_above(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    committee = await branch_with_secretary(admin, "新业态党委", OTHER_SECRETARY, kind="行业党委")
    code = await branch_with_secretary(admin, "张江站支部", SECRETARY, parent=committee)
    await rider.say(f"/join {code}")
    ref = await file_hazard(rider, tmp_path)
    forwarded = await secretary.script("/pending", f"tap:{ref}", "tap:上报上级")
    assert any(ref in r.text and "属实" in str(r.buttons) for r in forwarded.to("sec2"))
    assert any("已上报" in r.text or "转交" in r.text for r in forwarded.to("rider"))
    moved = await report_of(app, ref)
    assert moved.status == "forwarded"
    assert "没有待处理" in (await secretary.say("/pending")).text

    above = Chat(app, "sec2")
    card = await above.script("/pending", f"tap:{ref}")
    assert "上报上级" not in " ".join(card.labels()), "nothing is above the committee"
    accepted = await above.tap("属实，受理")
    assert "已受理" in accepted.text and "不能改成" not in accepted.text
    assert (await report_of(app, ref)).status == "acknowledged"


async def test_riders_and_secretaries_cannot_use_what_is_above_them(
    app: App, admin: Chat, secretary: Chat, rider: Chat
) -> None:
    code = await branch_with_secretary(admin, "甲支部", SECRETARY)
    registry = build_registry()
    admin_only = [a for a in registry.actions if a.role.value == "admin"]
    secretary_only = [a for a in registry.actions if a.role.value == "secretary"]
    assert admin_only and secretary_only
    for action in admin_only + secretary_only:
        for command in action.commands:
            refused = await rider.say(f"/{command} {code} console:rider")
            assert refused.text == "🚫 您没有权限使用这个功能。", command
        assert "没有权限" in await press(app, f"m:{action.name}:{code}")
    for action in admin_only:
        for command in action.commands:
            refused = await secretary.say(f"/{command} {code} console:sec")
            assert refused.text == "🚫 您没有权限使用这个功能。", command
        assert "没有权限" in await press(app, f"m:{action.name}:{code}", SECRETARY)
    async with app.db.transaction() as tx:
        assert [e.actor for e in await audit.entries(tx)] == ["console:admin"] * 2


async def test_a_deep_link_joins_and_the_qr_code_decodes_to_it(admin: Chat, rider: Chat) -> None:
    code = await new_branch(admin, "甲支部")
    card = await admin.say(f"/qr {code}")
    picture = card.last.photo
    assert picture is not None
    assert images.decode_qr(Path(picture)) == f"https://t.me/nuanxin_bot?start=join-{code}"
    assert "已加入「甲支部」" in (await rider.say(f"/start join-{code}")).text


async def accepted_hazard(admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path) -> str:
    """A rider of 甲支部 files a hazard and its secretary accepts it; its reference."""
    code = await branch_with_secretary(admin, "甲支部", SECRETARY)
    await rider.say(f"/join {code}")
    ref = await file_hazard(rider, tmp_path)
    await secretary.script("/pending", f"tap:{ref}", "tap:属实，受理")
    return ref


async def test_points_are_paid_once_per_confirmed_hazard(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    ref = await accepted_hazard(admin, secretary, rider, tmp_path)
    await secretary.script("/pending", f"tap:{ref}", "tap:已解决", "已处理")
    async with app.db.transaction() as tx:
        earned = await points.history(tx, "console:rider")
    assert [(a.delta, a.ref) for a in earned] == [(10, ref)]
    assert (await report_of(app, ref)).status == "resolved"


async def test_rejecting_an_accepted_hazard_takes_its_points_back(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    ref = await accepted_hazard(admin, secretary, rider, tmp_path)
    rejected = await secretary.script("/pending", f"tap:{ref}", "tap:不予受理", "照片是网图")
    assert any("收回 10 积分" in r.text for r in rejected.to("rider"))
    history = (await rider.say("/points")).text
    assert (
        "积分：0" in history
        and "+10 随手拍属实" in history
        and "-10 随手拍经复核不属实" in history
    )


async def test_an_admin_sees_stats_with_a_chart_and_gets_exports_as_documents(
    app: App, admin: Chat, secretary: Chat, rider: Chat, tmp_path: Path
) -> None:
    code = await branch_with_secretary(admin, "甲支部", SECRETARY)
    await rider.say(f"/join {code}")
    await declare_party_member(rider)
    ref = await file_hazard(rider, tmp_path)
    await secretary.script("/pending", f"tap:{ref}", "tap:属实，受理")
    shown = await admin.say("/stats")
    assert "亮身份骑手 1 人" in shown.text and "其中党员 1 人" in shown.text
    assert "响应率 100%" in shown.text and "解决率 0%" in shown.text
    chart = shown.last.photo
    assert chart is not None
    with Image.open(chart) as picture:
        assert picture.format == "PNG" and picture.height > 300
    sent = await admin.script("/export", "tap:亮身份骑手")
    document = sent.last.document
    assert document is not None and document.endswith(".xlsx")
    rows = list(load_workbook(document).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[1][:2] == ("张三", "138****8000")
