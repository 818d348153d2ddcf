"""Rider, secretary and admin over Telegram: the real Application against the local server."""

from __future__ import annotations

import json
import re

from bot.transports.telegram import TelegramRunner
from tests.conftest import TELEGRAM_ADMIN as ADMIN
from tests.fake_telegram import Call, FakeTelegram

SECRETARY, RIDER = 700, 501
AFTER_THE_DESCRIPTION = (
    ("tap", "跳过", "在哪里"),
    ("tap", "跳过", "能看到您的名字吗"),
    ("tap", "可以显示我的名字", "请核对诉求"),
    ("tap", "确认提交", "诉求已提交"),
)


async def expect(server: FakeTelegram, user: int, fragment: str) -> Call:
    """Waits for a message to ``user`` containing ``fragment``; returns the newest such."""
    await server.wait_for(lambda: any(fragment in c.text for c in server.sent_to(user)))
    return next(c for c in reversed(server.sent_to(user)) if fragment in c.text)


async def walk(server: FakeTelegram, user: int, *steps: tuple[str, str, str]) -> Call:
    """Each step: ``say`` a text or ``tap`` a button, then wait for a message containing the
    expected words; returns the last message waited for."""
    answer: Call | None = None
    for action, value, expected in steps:
        if action == "say":
            await server.text(user, value)
        else:
            await server.press(user, value)
        answer = await expect(server, user, expected)
    assert answer is not None
    return answer


async def new_branch(server: FakeTelegram, name: str, kind: str) -> tuple[Call, str]:
    """The admin creates a branch in chat; returns the answer and the branch's code."""
    created = await walk(
        server,
        ADMIN,
        ("say", "/newbranch", "叫什么名字"),
        ("say", name, "依托在哪里"),
        ("tap", kind, "哪个区"),
        ("say", "浦东新区", "上级组织"),
        ("tap", "无", "核对支部"),
        ("tap", "确认提交", "支部码："),
    )
    code = re.search(r"支部码：([A-Z0-9]{6})", created.text)
    assert code
    return created, code.group(1)


async def file_grievance(server: FakeTelegram, code: str) -> str:
    """The rider joins the branch and files a 饮水难 grievance; its reference."""
    filed = await walk(
        server,
        RIDER,
        ("say", f"/start join-{code}", "已加入「美团张江站支部」"),
        ("say", "/grievance", "遇到了什么困难"),
        ("tap", "饮水难", "说说具体情况"),
        ("say", "站点附近没有饮水点", "有照片"),
        *AFTER_THE_DESCRIPTION,
    )
    ref = re.search(r"SQ-\d{8}-\d{4}", filed.text)
    assert ref
    return ref.group(0)


async def test_rider_secretary_and_admin_over_telegram(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    created, code = await new_branch(server, "美团张江站支部", "网点站点")
    assert created.method == "sendPhoto"
    welcome = await walk(server, ADMIN, ("say", f"/appoint {code} telegram:{SECRETARY}", "书记"))
    assert "telegram:700" in welcome.text
    assert (await expect(server, SECRETARY, "书记")).method == "sendPhoto"

    ref = await file_grievance(server, code)
    card = await expect(server, SECRETARY, ref)
    assert "站点附近没有饮水点" in card.text
    await server.press(SECRETARY, "属实，受理")
    await expect(server, RIDER, "已受理")
    await walk(
        server,
        SECRETARY,
        ("tap", "已解决", "是怎么解决的"),
        ("say", "已协调站点旁便利店免费接水", "已改为"),
    )
    resolved = await expect(server, RIDER, "已协调站点旁便利店免费接水")
    assert "5⭐" in [label for label, _ in resolved.buttons]
    await walk(server, RIDER, ("tap", "5⭐", "谢谢评价"))

    figures = await walk(server, ADMIN, ("say", "/stats", "满意率"))
    assert figures.method == "sendPhoto"
    assert "响应率 100%" in figures.text and "满意率 100%" in figures.text

    await server.tap(RIDER, f"m:act:ack:{ref}")
    await server.wait_for(
        lambda: any("没有权限" in c.params.get("text", "") for c in server.calls)
    )


async def test_a_voice_note_reaches_the_secretary_as_a_voice_message(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    _, code = await new_branch(server, "美团张江站支部", "网点站点")
    await walk(server, ADMIN, ("say", f"/appoint {code} telegram:{SECRETARY}", "书记"))
    await walk(
        server,
        RIDER,
        ("say", f"/start join-{code}", "已加入"),
        ("say", "/grievance", "遇到了什么困难"),
        ("tap", "饮水难", "说说具体情况"),
    )
    recording = b"OggS" + bytes(range(256)) * 16
    await server.voice(RIDER, recording)
    await expect(server, RIDER, "有照片")
    filed = await walk(
        server,
        RIDER,
        *AFTER_THE_DESCRIPTION,
    )
    found = re.search(r"SQ-\d{8}-\d{4}", filed.text)
    assert found
    ref = found.group(0)
    card = await expect(server, SECRETARY, ref)
    assert "语音（下一条可以听）" in card.text
    voice = await expect(server, SECRETARY, "语音说明")
    assert voice.method == "sendVoice" and ref in voice.text


async def test_when_one_secretary_acts_the_other_card_is_edited_in_place(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    other = 701
    _, code = await new_branch(server, "美团张江站支部", "网点站点")
    for person in (SECRETARY, other):
        await walk(server, ADMIN, ("say", f"/appoint {code} telegram:{person}", "书记"))
    ref = await file_grievance(server, code)
    assert (await expect(server, other, ref)).buttons
    await expect(server, SECRETARY, ref)
    await server.press(SECRETARY, "属实，受理")
    await server.wait_for(
        lambda: any(
            c.method.startswith("edit") and "已受理" in c.text for c in server.sent_to(other)
        )
    )
    edited = next(c for c in server.sent_to(other) if c.method.startswith("edit"))
    assert edited.method == "editMessageText" and edited.buttons == []
    assert "telegram:700 已处理：已受理" in edited.text
    shown = server.shown[(other, int(edited.params["message_id"]))]
    assert "已处理" in shown
    cards = [c for c in server.sent_to(other) if c.method.startswith("send")]
    assert [ref in c.text for c in cards].count(True) == 1


def menu_of(server: FakeTelegram, chat: int) -> list[str] | None:
    """The commands the chat's own (Chinese) menu shows now; None once it is removed."""
    shown: list[str] | None = None
    for call in server.calls:
        scope = json.loads(call.params.get("scope") or "{}")
        if scope != {"type": "chat", "chat_id": chat} or call.params.get("language_code"):
            continue
        if call.method == "setMyCommands":
            shown = [c["command"] for c in json.loads(call.params["commands"])]
        elif call.method == "deleteMyCommands":
            shown = None
    return shown


async def test_an_appointment_and_a_dismissal_change_the_menu_at_once(
    server: FakeTelegram, runner: TelegramRunner
) -> None:
    _, code = await new_branch(server, "外卖骑手协会", "协会")
    assert menu_of(server, SECRETARY) is None
    await walk(server, ADMIN, ("say", f"/appoint {code} telegram:{SECRETARY}", "书记"))
    await server.wait_for(lambda: menu_of(server, SECRETARY) is not None)
    assert "pending" in (menu_of(server, SECRETARY) or [])
    await walk(server, ADMIN, ("say", f"/dismiss {code} telegram:{SECRETARY}", "不再是"))
    await server.wait_for(lambda: menu_of(server, SECRETARY) is None)
    assert all(call.text for call in server.sent_to(SECRETARY))
