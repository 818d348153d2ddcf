"""WeCom: the message encryption against Tencent's published samples, and the callback →
core → ``message/send`` loop against a local server that speaks WeCom's API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.app import App
from bot.cli import main
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.events import Reply
from bot.transports.wecom import WeComRunner
from bot.transports.wecom_crypto import CryptoError, WeComCrypto
from handlers.geo import distance_m, wgs84_to_gcj02
from handlers.handling import BRANCH_GROUP
from storage import branches, broadcasts, outbox, reports
from storage.branches import NewBranch
from tests import images
from tests.chat import Chat
from tests.fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    Member,
    buttons_of,
    echo_check,
    text_of,
)
from tests.test_reports import ref_in

# Tencent's WXBizMsgCrypt samples. The 2014 sample (token QDG6eK, receive id
# wx5823bf96d3bd56c7) ships with the Python, PHP, Java and C# WXBizMsgCrypt downloads; the 2016
# WeCom sample (corp ww1436e0e65a779aee) is weworkapi_python's callback/Sample.py.
SAMPLE_2014 = ("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
SAMPLE_ECHO = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
SAMPLE_MESSAGE = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
SAMPLE_2016_ECHO = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)


def test_tencents_url_verification_samples_verify_and_decrypt() -> None:
    crypto = WeComCrypto(*SAMPLE_2014)
    crypto.check(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", SAMPLE_ECHO
    )
    assert crypto.decrypt(SAMPLE_ECHO).isdigit()
    wecom = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    wecom.check(
        "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", SAMPLE_2016_ECHO
    )
    assert wecom.decrypt(SAMPLE_2016_ECHO) == "1288432023552776189"


def test_tencents_message_sample_verifies_and_decrypts() -> None:
    crypto = WeComCrypto(*SAMPLE_2014)
    crypto.check(
        "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", SAMPLE_MESSAGE
    )
    plain = crypto.decrypt(SAMPLE_MESSAGE)
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in plain
    assert "<Content><![CDATA[hello]]></Content>" in plain
    assert "<MsgId>4561255354251345929</MsgId>" in plain


def test_encrypting_then_decrypting_gives_the_message_back_and_tampering_is_caught() -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    message = "<xml><Content><![CDATA[冷柜坏了 🧊]]></Content></xml>"
    sealed = crypto.encrypt(message)
    assert crypto.decrypt(sealed) == message
    with pytest.raises(CryptoError):
        crypto.check("0" * 40, "1", "2", sealed)
    with pytest.raises(CryptoError):
        WeComCrypto(TOKEN, AES_KEY, "ww-someone-else").decrypt(sealed)


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(wecom: FakeWeCom, tmp_path: Path, clock: ManualClock) -> AsyncIterator[WeComRunner]:
    settings = Settings(
        data_dir=tmp_path / "data",
        admins=frozenset({"wecom:admin"}),
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=Secret(SECRET),
        wecom_token=Secret(TOKEN),
        wecom_aes_key=Secret(AES_KEY),
        wecom_api_url=wecom.api_url,
    )
    app = await App.open(settings, clock)
    runner = WeComRunner(app, settings)
    await runner.start("127.0.0.1:0")
    yield runner
    await runner.stop()
    await app.close()


def member(bot: WeComRunner, user: str = "zhangsan") -> Member:
    return Member(user, f"http://127.0.0.1:{bot.port}/wecom", bot.app.clock)


async def replies(wecom: FakeWeCom, user: str, count: int) -> list[dict[str, object]]:
    await wecom.wait_for(lambda: len(wecom.to(user)) >= count)
    return wecom.to(user)


async def test_the_callback_url_is_verified_and_a_forged_one_refused(bot: WeComRunner) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    url = f"http://127.0.0.1:{bot.port}/wecom"
    assert await echo_check(url, crypto, "8412345") == (200, "8412345", 403)


async def test_a_member_is_answered_through_message_send_with_cards_or_numbers(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    assert await zhang.say("/start") == 200
    menu = (await replies(wecom, "zhangsan", 1))[0]
    assert menu["msgtype"] == "text" and "1. 📷 随手拍" in text_of(menu)
    assert await zhang.say("1") == 200
    categories = (await replies(wecom, "zhangsan", 2))[1]
    assert categories["msgtype"] == "template_card"
    assert ("🍱 食品安全", buttons_of(categories)[0][1]) == buttons_of(categories)[0]
    assert menu["agentid"] == AGENT_ID


async def test_a_hazard_report_with_a_photo_and_a_location_over_wecom(
    bot: WeComRunner, wecom: FakeWeCom, tmp_path: Path
) -> None:
    zhang = member(bot)
    await zhang.say("/report")
    categories = (await replies(wecom, "zhangsan", 1))[-1]
    await zhang.tap(next(key for label, key in buttons_of(categories) if "食品安全" in label))
    await replies(wecom, "zhangsan", 2)
    wecom.media["photo-1"] = images.photo(tmp_path / "p.jpg").read_bytes()
    await zhang.post(zhang.xml("image", MediaId="photo-1", PicUrl="http://example.invalid/p"))
    got = (await replies(wecom, "zhangsan", 3))[-1]
    assert "收到第1张" in text_of(got)
    await zhang.tap(next(key for label, key in buttons_of(got) if "照片好了" in label))
    where = (await replies(wecom, "zhangsan", 4))[-1]
    assert "选「位置」" in text_of(where)
    gcj_lat, gcj_lon = wgs84_to_gcj02(31.2304, 121.4737)
    await zhang.post(
        zhang.xml(
            "location", Location_X=str(gcj_lat), Location_Y=str(gcj_lon), Scale="15", Label=""
        )
    )
    describe = (await replies(wecom, "zhangsan", 5))[-1]
    await zhang.tap(next(key for label, key in buttons_of(describe) if "跳过" in label))
    summary = (await replies(wecom, "zhangsan", 6))[-1]
    await zhang.tap(next(key for label, key in buttons_of(summary) if "确认提交" in label))
    await wecom.wait_for(lambda: any("YH-" in text_of(m) for m in wecom.to("zhangsan")))
    async with bot.app.db.transaction() as tx:
        [report] = await reports.of_kind(tx, "hazard")
        photos = await reports.photos(tx, report.id)
    assert len(photos) == 1
    assert report.latitude is not None and report.longitude is not None
    assert distance_m(report.latitude, report.longitude, 31.2304, 121.4737) < 1


async def test_a_message_delivered_twice_is_handled_once(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    again = zhang.xml("text", msg_id="CAQQ-not-a-number", Content="/start")
    assert await zhang.post(again) == 200
    assert await zhang.post(again) == 200
    await bot.intake.idle()
    await bot.delivery.idle()
    assert len(wecom.to("zhangsan")) == 1


async def test_the_callback_is_answered_success_only_once_it_is_kept(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    start = zhang.xml("text", msg_id="kept-1", Content="/start")
    async with bot.app.db.reading() as tx:
        await tx.execute("PRAGMA query_only = ON")
    assert await zhang.post(start) == 500
    async with bot.app.db.reading() as tx:
        await tx.execute("PRAGMA query_only = OFF")
    assert await zhang.post(start) == 200
    await bot.intake.idle()
    await bot.delivery.idle()
    assert len(wecom.to("zhangsan")) == 1


async def test_messages_without_an_id_are_each_handled_and_their_retries_are_not(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    first, second = (zhang.xml("text", no_id=True, Content=c) for c in ("/start", "/help"))
    for callback in (first, second, first):
        assert await zhang.post(callback) == 200
    await bot.intake.idle()
    await bot.delivery.idle()
    texts = [text_of(m) for m in wecom.to("zhangsan")]
    assert len(texts) == 2 and "暖新" in texts[0]


def padding_only() -> str:
    """A ciphertext whose plaintext is one block of valid padding and nothing else."""
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(bytes([32]) * 32) + encryptor.finalize()).decode()


async def test_a_forged_long_timestamp_or_a_message_too_short_is_refused_not_a_500(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    inner = zhang.xml("text", Content="/start")
    assert await zhang.post(inner, timestamp="9" * 400) == 403
    assert await zhang.post(inner, encrypted=padding_only()) == 403
    await bot.intake.idle()
    assert wecom.to("zhangsan") == []


@pytest.mark.parametrize(
    "forgery",
    ["signature", "stale", "replayed", "entities", "malformed"],
)
async def test_forged_stale_replayed_and_unsafe_callbacks_are_refused(
    bot: WeComRunner, wecom: FakeWeCom, forgery: str
) -> None:
    zhang = member(bot)
    inner = zhang.xml("text", Content="/start")
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
    )
    if forgery == "signature":
        status = await zhang.post(inner, signature="0" * 40)
    elif forgery == "stale":
        old = str(int(bot.app.clock.now().timestamp()) - 3600)
        status = await zhang.post(inner, timestamp=old)
    elif forgery == "replayed":
        assert await zhang.post(inner, nonce="same-nonce") == 200
        status = await zhang.post(zhang.xml("text", Content="/help"), nonce="same-nonce")
    elif forgery == "entities":
        status = await zhang.post(inner, outer=bomb)
    else:
        status = await zhang.post(inner, outer="<xml><Encrypt>unclosed")
    assert status == (403 if forgery in ("signature", "stale", "replayed") else 400)
    await bot.intake.idle()
    await bot.delivery.idle()
    assert len(wecom.to("zhangsan")) == (1 if forgery == "replayed" else 0)


async def test_an_expired_token_is_refreshed_once_and_the_message_still_arrives(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    await zhang.say("/start")
    await replies(wecom, "zhangsan", 1)
    wecom.expire_once = True
    await zhang.say("/help")
    await replies(wecom, "zhangsan", 2)
    assert wecom.token_requests == 2


async def test_a_member_who_left_is_marked_and_skipped(bot: WeComRunner, wecom: FakeWeCom) -> None:
    wecom.left.add("lisi")
    await member(bot, "lisi").say("/start")
    await bot.intake.idle()
    await bot.delivery.idle()
    async with bot.app.db.transaction() as tx:
        assert await broadcasts.count_recipients(tx, "all", None, "wecom:admin") == 0
    assert wecom.to("lisi") == []


def test_missing_wecom_settings_are_named_in_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WECOM_AGENT_ID", "1000002")
    assert main(["wecom", "--data-dir", str(tmp_path / "d"), "--listen", "127.0.0.1:0"]) == 1
    error = capsys.readouterr().err
    assert error == "nuanxin: set WECOM_CORP_ID, WECOM_SECRET, WECOM_TOKEN, WECOM_AES_KEY\n"


async def console_grievance(app: App) -> str:
    """A rider in the console joins ZJ0001 and files a 饮水难 grievance; its reference."""
    rider = Chat(app, "rider")
    await rider.script("/join ZJ0001", "/grievance", "tap:饮水难", "没有饮水点")
    done = await rider.script("tap:跳过", "tap:跳过", "tap:可以显示", "tap:确认提交")
    return ref_in(done.text, "SQ")


async def test_a_branch_group_robot_gets_alerts_without_names_merged_under_its_limit(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    async with bot.app.db.transaction() as tx:
        branch = await branches.create(
            tx, NewBranch("ZJ0001", "张江站支部", "station"), bot.app.clock.now()
        )
    admin = member(bot, "admin")
    await admin.say(f"/editbranch ZJ0001 robot {wecom.api_url}/webhook/send?key=robot-key")
    await bot.intake.idle()
    ref = await console_grievance(bot.app)
    bot.wake()
    await bot.robots.idle()
    assert wecom.robot == [
        ("robot-key", f"🔔 张江站支部：新诉求 {ref}（🚰 饮水难），请书记在应用里处理。")
    ]

    async with bot.app.db.transaction() as tx:
        for n in range(3):
            await outbox.add(
                tx, f"{BRANCH_GROUP}:{branch.id}", Reply(text=f"提醒 {n}"), bot.app.clock.now()
            )
    bot.wake()
    await bot.robots.idle()
    assert wecom.robot[1:] == [("robot-key", "提醒 0\n\n提醒 1\n\n提醒 2")]


async def test_the_numbered_list_speaks_the_members_language(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    await zhang.say("/lang en")
    await zhang.say("/start")
    await bot.intake.idle()
    await bot.delivery.idle()
    menu = text_of(wecom.to("zhangsan")[-1])
    assert "👉 Reply with a number:\n1. 📷 Report a hazard" in menu


async def test_a_garbled_message_is_skipped_and_the_member_is_still_answered(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    zhang = member(bot)
    assert await zhang.post(zhang.xml("location", Location_X="north", Location_Y="east")) == 200
    await zhang.say("/start")
    await bot.intake.idle()
    await bot.delivery.idle()
    assert [text_of(m).splitlines()[0] for m in wecom.to("zhangsan")] == [
        "👋 你好，骑手朋友！这里是暖新。"
    ]


async def test_an_expired_card_button_is_answered_with_a_message(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    """WeCom has no pop-up: what Telegram shows as an alert comes as a text."""
    zhang = member(bot)
    await zhang.say("/report")
    categories = (await replies(wecom, "zhangsan", 1))[0]
    await zhang.say("/cancel")
    await replies(wecom, "zhangsan", 2)
    await zhang.tap(buttons_of(categories)[0][1])
    assert "按钮已经过期" in text_of((await replies(wecom, "zhangsan", 3))[2])


async def test_when_one_secretary_acts_the_others_card_is_settled_in_place(
    bot: WeComRunner, wecom: FakeWeCom
) -> None:
    async with bot.app.db.transaction() as tx:
        await branches.create(
            tx, NewBranch("ZJ0001", "张江站支部", "station"), bot.app.clock.now()
        )
    admin = member(bot, "admin")
    for secretary in ("zhang", "wang"):
        await admin.say(f"/appoint ZJ0001 wecom:{secretary}")
    await bot.intake.idle()
    ref = await console_grievance(bot.app)
    bot.wake()
    await wecom.wait_for(
        lambda: all(
            any(ref in text_of(m) for m in wecom.to(person)) for person in ("zhang", "wang")
        )
    )
    card = next(m for m in wecom.to("zhang") if ref in text_of(m))
    await member(bot, "zhang").tap(next(key for label, key in buttons_of(card) if "受理" in label))
    await wecom.wait_for(lambda: bool(wecom.card_updates))
    [update] = wecom.card_updates
    assert update["userids"] == ["wang"] and "已处理：已受理" in update["button"]["replace_name"]
    assert not any(m.get("touser") == "wang" and "已处理" in text_of(m) for m in wecom.sent)
