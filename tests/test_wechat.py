"""Riders in WeChat: the bot as a 微信客服 account, against a local server that speaks the
account's API (real encryption, the pull by cursor and token, WeChat's 48-hour, five-message
rule enforced)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.events import Reply
from bot.transports.wecom import WeComRunner
from bot.transports.wecom_crypto import WeComCrypto
from handlers.geo import distance_m, wgs84_to_gcj02
from storage import branches, outbox, reports, windows
from storage.branches import NewBranch
from tests import images
from tests.chat import Chat
from tests.cli import run
from tests.fake_kf import CONTACT_URL, OPEN_KFID, FakeKf, WeChatUser, item, items_of, text_of
from tests.fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    KF_AES_KEY,
    KF_SECRET,
    KF_TOKEN,
    echo_check,
)
from tests.fake_wecom import SECRET as APP_SECRET
from tests.fake_wecom import TOKEN as APP_TOKEN
from tests.test_reports import ref_in


@pytest.fixture
async def kf(clock: ManualClock) -> AsyncIterator[FakeKf]:
    fake = FakeKf(clock=clock)
    await fake.start()
    yield fake
    await fake.stop()


def kf_settings(data_dir: Path, api_url: str, **more: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        admins=frozenset({"console:admin"}),
        wecom_corp_id=CORP_ID,
        wecom_api_url=api_url,
        wecom_kf_secret=Secret(KF_SECRET),
        wecom_kf_token=Secret(KF_TOKEN),
        wecom_kf_aes_key=Secret(KF_AES_KEY),
        **more,
    )


@asynccontextmanager
async def serving(settings: Settings, clock: ManualClock) -> AsyncIterator[WeComRunner]:
    """The bot on WeCom with these settings, on a free port, until the block ends."""
    app = await App.open(settings, clock)
    runner = WeComRunner(app, settings)
    await runner.start("127.0.0.1:0")
    try:
        yield runner
    finally:
        await runner.stop()
        await app.close()


@pytest.fixture
async def bot(kf: FakeKf, tmp_path: Path, clock: ManualClock) -> AsyncIterator[WeComRunner]:
    async with serving(kf_settings(tmp_path / "data", kf.api_url), clock) as runner:
        yield runner


def rider(bot: WeComRunner, kf: FakeKf, user: str = "wmRider01") -> WeChatUser:
    return WeChatUser(kf, user, f"http://127.0.0.1:{bot.port}/wecom/kf")


async def wrote_once(bot: WeComRunner, kf: FakeKf) -> WeChatUser:
    """A rider who asked for /help and was answered: their window is open, one send spent."""
    wang = rider(bot, kf)
    await wang.say("/help")
    await answers(kf, wang.user, 1)
    return wang


async def answers(kf: FakeKf, user: str, count: int) -> list[dict[str, Any]]:
    await kf.wait_for(lambda: len(kf.to_user(user)) >= count)
    return kf.to_user(user)


async def settled(bot: WeComRunner) -> None:
    assert bot.wechat is not None
    await bot.wechat.puller.pull_due()
    await bot.wechat.intake.idle()
    await bot.wechat.delivery.idle()


async def file_grievance(kf: FakeKf, person: WeChatUser, text: str) -> str:
    """Files a 饮水难 grievance by clicks and text; its reference."""
    await person.say("/grievance")
    await person.click(item((await answers(kf, person.user, 1))[-1], "饮水难"))
    await answers(kf, person.user, 2)
    await person.say(text)
    for n, label in enumerate(("跳过", "跳过", "可以显示", "确认提交"), start=3):
        await person.click(item((await answers(kf, person.user, n))[-1], label))
    await kf.wait_for(lambda: any("SQ-" in text_of(m) for m in kf.to_user(person.user)))
    return ref_in(text_of(kf.to_user(person.user)[-1]), "SQ")


async def test_the_callback_url_is_verified_and_forged_callbacks_pull_nothing(
    bot: WeComRunner, kf: FakeKf
) -> None:
    url = f"http://127.0.0.1:{bot.port}/wecom/kf"
    crypto = WeComCrypto(KF_TOKEN, KF_AES_KEY, CORP_ID)
    assert await echo_check(url, crypto, "5723011") == (200, "5723011", 403)
    wang = rider(bot, kf)
    kf.add(wang.user, "text", {"content": "/start"})
    token = kf.issue_token(0)
    stale = str(int(kf.clock.now().timestamp()) - 3600)
    assert await wang.announce(token, signature="0" * 40) == 403
    assert await wang.announce(token, timestamp=stale) == 403
    assert await wang.announce(token, nonce="once") == 200
    assert await wang.announce(token, nonce="once") == 403
    await settled(bot)
    assert len(kf.to_user(wang.user)) == 1


async def test_a_rider_in_wechat_reports_a_hazard_with_a_photo_and_a_location(
    bot: WeComRunner, kf: FakeKf, tmp_path: Path
) -> None:
    wang = rider(bot, kf)
    assert await wang.say("/start") == 200
    menu = (await answers(kf, wang.user, 1))[0]
    assert menu["msgtype"] == "msgmenu" and menu["open_kfid"] == OPEN_KFID
    await wang.click(item(menu, "随手拍"))
    categories = (await answers(kf, wang.user, 2))[-1]
    await wang.click(item(categories, "食品安全"))
    await answers(kf, wang.user, 3)
    kf.media["photo-1"] = images.photo(tmp_path / "p.jpg").read_bytes()
    await wang.send("image", {"media_id": "photo-1"})
    got = (await answers(kf, wang.user, 4))[-1]
    assert "收到第1张" in text_of(got)
    await wang.click(item(got, "照片好了"))
    where = (await answers(kf, wang.user, 5))[-1]
    assert "⊕" in text_of(where) and "位置" in text_of(where)
    lat, lon = wgs84_to_gcj02(31.2304, 121.4737)
    await wang.send(
        "location", {"latitude": lat, "longitude": lon, "name": "人民广场", "address": "黄浦区"}
    )
    describe = (await answers(kf, wang.user, 6))[-1]
    await wang.click(item(describe, "跳过"))
    summary = (await answers(kf, wang.user, 7))[-1]
    await wang.click(item(summary, "确认提交"))
    await kf.wait_for(lambda: any("YH-" in text_of(m) for m in kf.to_user(wang.user)))
    async with bot.app.db.reading() as tx:
        [report] = await reports.of_kind(tx, "hazard")
        assert len(await reports.photos(tx, report.id)) == 1
    assert report.reporter == f"wechat:{wang.user}"
    assert report.latitude is not None and report.longitude is not None
    assert distance_m(report.latitude, report.longitude, 31.2304, 121.4737) < 1
    assert kf.refused == []


async def test_a_rider_in_wechat_files_a_grievance_by_clicks_and_text(
    bot: WeComRunner, kf: FakeKf
) -> None:
    li = rider(bot, kf, "wmLi")
    await file_grievance(kf, li, "站点附近没有饮水点")
    async with bot.app.db.reading() as tx:
        [grievance] = await reports.of_kind(tx, "grievance")
    assert grievance.description == "站点附近没有饮水点"
    assert kf.refused == []


async def test_a_pull_follows_has_more_and_a_restart_handles_each_message_once(
    kf: FakeKf, tmp_path: Path, clock: ManualClock
) -> None:
    settings = kf_settings(tmp_path / "data", kf.api_url)
    kf.page = 2
    users = [f"wmUser{n}" for n in range(7)]
    for user in users:
        kf.add(user, "text", {"content": "/help"})
    kf.fail_from = 2
    async with serving(settings, clock) as runner:
        assert await rider(runner, kf, users[0]).announce(kf.issue_token(0)) == 200
        await kf.wait_for(lambda: len(kf.pulls) >= 3)
    handled_before = {m["touser"] for m in kf.kf_sent}
    assert handled_before == set(users[:2])

    kf.fail_from = 10**9
    async with serving(settings, clock) as runner:
        await kf.wait_for(lambda: len(kf.kf_sent) >= len(users))
        await settled(runner)
    assert sorted(m["touser"] for m in kf.kf_sent) == sorted(users)
    assert all(not ("cursor" in p and "token" in p) for p in kf.pulls)
    assert "6" in [p.get("cursor") for p in kf.pulls]


async def test_a_sixth_message_waits_for_the_rider_and_follows_the_answer_to_their_next(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = await wrote_once(bot, kf)
    async with bot.app.db.transaction() as tx:
        for n in range(1, 7):
            await outbox.add(
                tx, f"wechat:{wang.user}", Reply(text=f"进展 {n}"), bot.app.clock.now()
            )
    bot.wake()
    await settled(bot)
    sent = [text_of(m) for m in kf.to_user(wang.user)]
    assert len(sent) == 5 and sent[1:4] == ["进展 1", "进展 2", "进展 3"]
    assert sent[4].startswith("进展 4") and "还有 2 条" in sent[4]
    assert kf.refused == []

    await wang.say("/start")
    await answers(kf, wang.user, 8)
    later = [text_of(m) for m in kf.to_user(wang.user)[5:]]
    assert "暖新" in later[0] and later[1:] == ["进展 5", "进展 6"]
    assert kf.refused == []


async def test_after_48_hours_news_waits_and_the_secretary_sees_that_it_does(
    bot: WeComRunner, kf: FakeKf
) -> None:
    li = rider(bot, kf, "wmLi")
    ref = await file_grievance(kf, li, "没有饮水点")
    await settled(bot)
    kf.clock.advance(timedelta(hours=49))

    admin = Chat(bot.app, "admin")
    done = await admin.say(f"/setstatus {ref} resolved 已在站点装了饮水机")
    assert "📭" in done.text and "/pending" in done.text
    assert f"📭 {ref}" in (await admin.say("/pending")).text
    await settled(bot)
    assert not any("饮水机" in text_of(m) for m in kf.to_user(li.user))
    assert kf.refused == []

    await li.say("在吗")
    await kf.wait_for(lambda: any("饮水机" in text_of(m) for m in kf.to_user(li.user)))
    await settled(bot)
    assert ref not in (await admin.say("/pending")).text


async def test_opening_the_chat_from_a_branch_poster_joins_and_is_welcomed_once(
    bot: WeComRunner, kf: FakeKf
) -> None:
    async with bot.app.db.transaction() as tx:
        await branches.create(
            tx, NewBranch("ZJ0001", "张江站支部", "station"), bot.app.clock.now()
        )
    zhao = rider(bot, kf, "wmZhao")
    assert await zhao.enter("join-ZJ0001") == 200
    [welcome] = await answers(kf, zhao.user, 1)
    assert "code" in welcome and "张江站支部" in text_of(welcome)
    async with bot.app.db.reading() as tx:
        branch = await branches.membership(tx, f"wechat:{zhao.user}")
    assert branch is not None and branch.code == "ZJ0001"
    assert kf.refused == []


async def test_what_servicers_and_the_system_sent_is_not_taken_for_the_riders(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = rider(bot, kf)
    await wang.send("text", {"content": "/start"}, origin=5)
    await wang.send("text", {"content": "/start"}, origin=4)
    await settled(bot)
    assert kf.to_user(wang.user) == []
    await wang.say("/help")
    assert len(await answers(kf, wang.user, 1)) == 1


async def test_a_failed_pull_is_retried_and_an_expired_token_falls_back_to_the_cursor(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = rider(bot, kf)
    kf.fail_pulls = 1
    await wang.say("/help")
    await answers(kf, wang.user, 1)
    kf.add(wang.user, "text", {"content": "/start"})
    token = kf.issue_token()
    kf.tokens[token] = (kf.tokens[token][0], kf.clock.now() - timedelta(seconds=1))
    assert await wang.announce(token) == 200
    await answers(kf, wang.user, 2)
    assert [p.get("token") == token for p in kf.pulls[-2:]] == [True, False]
    assert kf.pulls[-1].get("cursor") == "1"


async def test_unknown_kinds_get_a_hint_and_an_old_menu_item_is_an_expired_button(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = rider(bot, kf)
    await wang.send("video", {"media_id": "v1"})
    hint = (await answers(kf, wang.user, 1))[0]
    assert "没看懂" in text_of(hint) and item(hint, "随手拍")
    await wang.say("/report")
    categories = (await answers(kf, wang.user, 2))[-1]
    await wang.say("/cancel")
    await answers(kf, wang.user, 3)
    await wang.click(items_of(categories)[0])
    assert "按钮已经过期" in text_of((await answers(kf, wang.user, 4))[-1])


async def test_the_wechat_join_poster_encodes_the_accounts_link_for_the_branch(
    kf: FakeKf, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_API_URL": kf.api_url,
        "WECOM_KF_SECRET": KF_SECRET,
        "WECOM_KF_TOKEN": KF_TOKEN,
        "WECOM_KF_AES_KEY": KF_AES_KEY,
    }
    add = ["admin", "branch", "add", "--name", "张江站支部", "--kind", "station"]
    added = await asyncio.to_thread(
        run, *add, "--code", "ZJ0001", "--data-dir", str(data), cwd=tmp_path, env=env
    )
    assert added.returncode == 0, added.stderr
    poster = tmp_path / "poster.png"
    made = await asyncio.to_thread(
        run,
        *("admin", "branch", "qr", "ZJ0001", "--wechat", "--out", str(poster)),
        "--data-dir",
        str(data),
        cwd=tmp_path,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    link = images.decode_qr(poster)
    assert link == f"{CONTACT_URL}?scene=nuanxin&scene_param=join-ZJ0001"
    assert link in made.stdout


async def test_qr_in_chat_adds_the_wechat_poster_once_the_account_is_set_up(
    bot: WeComRunner, kf: FakeKf
) -> None:
    async with bot.app.db.transaction() as tx:
        await branches.create(
            tx, NewBranch("ZJ0001", "张江站支部", "station"), bot.app.clock.now()
        )
    assert bot.wechat is not None
    await bot.wechat.linked()
    said = await Chat(bot.app, "admin").say("/qr ZJ0001")
    posters = [m.reply.photo for m in said.messages if m.reply.photo]
    assert posters, said.text
    link = images.decode_qr(Path(posters[-1]))
    assert link == f"{CONTACT_URL}?scene=nuanxin&scene_param=join-ZJ0001"


async def test_the_app_and_the_wechat_account_are_served_side_by_side(
    kf: FakeKf, tmp_path: Path, clock: ManualClock
) -> None:
    settings = kf_settings(
        tmp_path / "data",
        kf.api_url,
        wecom_agent_id=AGENT_ID,
        wecom_secret=Secret(APP_SECRET),
        wecom_token=Secret(APP_TOKEN),
        wecom_aes_key=Secret(AES_KEY),
    )
    async with serving(settings, clock) as runner:
        await rider(runner, kf).say("/start")
        assert len(await answers(kf, "wmRider01", 1)) == 1
        assert runner.member_app is not None and runner.wechat is not None


async def test_a_send_wechat_later_reports_failed_is_marked_failed(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = await wrote_once(bot, kf)
    await settled(bot)
    async with bot.app.db.reading() as tx:
        [answer] = await outbox.to_recipient(tx, f"wechat:{wang.user}")
        delivered = await outbox.delivered_as(tx, answer.id)
    assert delivered
    await wang.send("event", {"event_type": "msg_send_fail", "fail_msgid": delivered})
    await settled(bot)
    async with bot.app.db.reading() as tx:
        outcome = await tx.execute_fetchall(
            "SELECT outcome FROM outbox WHERE id = ?", (answer.id,)
        )
    assert [tuple(row) for row in outcome] == [("failed",)]


async def test_only_the_configured_account_is_answered(
    kf: FakeKf, tmp_path: Path, clock: ManualClock
) -> None:
    settings = kf_settings(tmp_path / "data", kf.api_url, wecom_kf_open_kfid="wkSomeoneElse")
    async with serving(settings, clock) as runner:
        assert await rider(runner, kf).say("/start") == 200
        await settled(runner)
        assert kf.kf_sent == [] and kf.pulls == []


async def test_a_long_answer_fits_one_window_and_says_it_was_cut(
    bot: WeComRunner, kf: FakeKf
) -> None:
    wang = await wrote_once(bot, kf)
    async with bot.app.db.transaction() as tx:
        await outbox.add(tx, f"wechat:{wang.user}", Reply(text="长" * 5000), bot.app.clock.now())
    bot.wake()
    await settled(bot)
    parts = kf.to_user(wang.user)[1:]
    assert len(parts) == 3 and text_of(parts[-1]).endswith("…")
    assert kf.refused == []


async def test_a_voice_note_describes_a_grievance_and_records_list_it(
    bot: WeComRunner, kf: FakeKf
) -> None:
    li = rider(bot, kf, "wmLi")
    await li.say("/grievance")
    await li.click(item((await answers(kf, li.user, 1))[-1], "饮水难"))
    await answers(kf, li.user, 2)
    kf.media["voice-1"] = b"#!AMR\n" + bytes(range(256)) * 8
    await li.send("voice", {"media_id": "voice-1"})
    for n, label in enumerate(("跳过", "跳过", "可以显示", "确认提交"), start=3):
        await li.click(item((await answers(kf, li.user, n))[-1], label))
    await kf.wait_for(lambda: any("SQ-" in text_of(m) for m in kf.to_user(li.user)))
    ref = ref_in(text_of(kf.to_user(li.user)[-1]), "SQ")
    async with bot.app.db.reading() as tx:
        [grievance] = await reports.of_kind(tx, "grievance")
    assert grievance.voice
    await li.say("/records")
    await kf.wait_for(lambda: ref in text_of(kf.to_user(li.user)[-1]))


async def test_what_was_held_goes_out_after_a_restart_once_the_rider_has_written(
    kf: FakeKf, tmp_path: Path, clock: ManualClock
) -> None:
    settings = kf_settings(tmp_path / "data", kf.api_url)
    recipient = "wechat:wmRider01"
    async with serving(settings, clock) as runner:
        async with runner.app.db.transaction() as tx:
            await outbox.add(tx, recipient, Reply(text="进展 1"), clock.now())
        runner.wake()
        await settled(runner)
        assert kf.to_user("wmRider01") == []
        kf.add("wmRider01", "text", {"content": "在吗"})
        async with runner.app.db.transaction() as tx:
            await windows.open_window(
                tx, recipient, clock.now() + timedelta(hours=48), 5, OPEN_KFID
            )
    async with serving(settings, clock):
        await kf.wait_for(lambda: any("进展 1" in text_of(m) for m in kf.to_user("wmRider01")))
    assert kf.refused == []
