"""Hazard reports and grievances through the console transport and the real core."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from bot.events import Outgoing
from storage import outbox, reports
from tests import images
from tests.chat import Chat, press

PEOPLES_SQUARE = (31.2304, 121.4737)
# About 100 m and 300 m north of it.
NEAR = (31.2313, 121.4737)
FAR = (31.2331, 121.4737)


async def report_of(app: App, ref: str) -> reports.Report:
    async with app.db.transaction() as tx:
        found = await reports.get(tx, ref)
    assert found is not None
    return found


async def outbox_to(app: App, recipient: str) -> list[Outgoing]:
    async with app.db.transaction() as tx:
        return await outbox.to_recipient(tx, recipient)


def ref_in(text: str, prefix: str = "YH") -> str:
    match = re.search(rf"{prefix}-\d{{8}}-\d{{4}}", text)
    assert match, text
    return match.group(0)


def stored_photos(settings: Settings) -> list[Path]:
    return sorted((settings.media_dir / "photos").glob("*/*.jpg"))


async def file_hazard(chat: Chat, picture: Path, where: tuple[float, float]) -> str:
    await chat.script("/report", "tap:食品安全", f"!photo {picture}", "tap:照片好了")
    said = await chat.say(f"!loc {where[0]} {where[1]}")
    if "同一个吗" in said.text:
        said = await chat.tap("新问题")
    await chat.tap("跳过")
    return ref_in((await chat.tap("确认提交")).text)


async def test_a_hazard_with_a_photo_gets_a_reference_and_alerts_the_queue(
    app: App, rider: Chat, tmp_path: Path
) -> None:
    picture = images.photo(tmp_path / "p.jpg", size=(3000, 2000), gps=PEOPLES_SQUARE)
    asked = await rider.script("/start", "tap:随手拍", "tap:食品安全")
    assert "不要拍顾客的小票和人脸" in asked.text
    got = await rider.say(f"!photo {picture}")
    assert "收到第1张" in got.text
    where = await rider.tap("照片好了")
    assert "📷 用照片里的位置" in where.labels()
    await rider.tap("用照片里的位置")
    summary = await rider.say("冷柜里的熟食过期了")
    assert "照片位置 31.23040, 121.47370" in summary.text
    done = await rider.tap("确认提交")
    ref = ref_in(done.text)
    assert ref == "YH-20261201-0001"
    assert "== to admin ==" not in done.text
    card = done.to("admin")[0]
    assert f"随手拍 {ref}" in card.text and "🍱 食品安全" in card.text
    assert card.photo is not None and card.photo.endswith(".jpg")
    assert "✅ 属实，受理" in [b.label for b in card.flat_buttons()]
    report = await report_of(app, ref)
    assert (report.category, report.status, report.location_source) == (
        "food",
        "submitted",
        "photo",
    )
    assert report.description == "冷柜里的熟食过期了"


async def test_stored_photos_carry_no_metadata_and_are_upright_and_small(
    app: App, rider: Chat, tmp_path: Path, settings: Settings
) -> None:
    big = images.photo(tmp_path / "big.jpg", size=(4000, 3000), gps=PEOPLES_SQUARE)
    turned = images.photo(tmp_path / "turned.jpg", size=(1600, 1200), orientation=6, seed=2)
    with Image.open(big) as original:
        assert original.getexif()[images.MAKE] == "Canon"
        assert original.getexif().get_ifd(images.GPS_IFD)
    await rider.script("/report", "tap:其他", f"!photo {big}", f"!photo {turned}")
    files = stored_photos(settings)
    assert len(files) == 2
    sizes = []
    for file in files:
        with Image.open(file) as stored:
            assert dict(stored.getexif()) == {}
            assert "exif" not in stored.info and "icc_profile" not in stored.info
            assert max(stored.size) <= 2048
            sizes.append(stored.size)
    assert sorted(sizes) == [(1200, 1600), (2048, 1536)]
    assert len(list((settings.media_dir / "thumbs").glob("*/*.jpg"))) == 2


async def test_the_same_photo_is_stored_once(app: App, tmp_path: Path, settings: Settings) -> None:
    picture = images.photo(tmp_path / "same.jpg")
    for name in ("a", "b"):
        await Chat(app, name).script("/report", "tap:药品", f"!photo {picture}")
    assert len(stored_photos(settings)) == 1


async def test_a_cancelled_reports_photo_is_deleted_once_no_other_form_holds_it(
    app: App, tmp_path: Path, settings: Settings
) -> None:
    picture = images.photo(tmp_path / "same.jpg")
    first, second = Chat(app, "a"), Chat(app, "b")
    for rider in (first, second):
        await rider.script("/report", "tap:药品", f"!photo {picture}")
    assert "已取消" in (await first.say("取消")).text
    assert len(stored_photos(settings)) == 1, "deleted while another rider's form holds it"
    assert "已取消" in (await second.say("取消")).text
    assert stored_photos(settings) == [], "a cancelled report's photo was kept"


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda d: d / "notes.txt", "不是照片"),
        (lambda d: images.huge_file(d / "huge.jpg"), "太大了"),
        (lambda d: images.corrupt_jpeg(d / "broken.jpg"), "坏了"),
        (lambda d: images.png_bomb(d / "bomb.png"), "尺寸太大"),
        (lambda d: images.photo(d / "gif.gif", fmt="GIF", size=(50, 50)), "不是照片"),
    ],
    ids=["text-file", "30MB", "corrupt", "20000x20000", "gif"],
)
async def test_a_bad_photo_is_refused_and_nothing_is_kept(
    app: App,
    rider: Chat,
    tmp_path: Path,
    settings: Settings,
    make: Callable[[Path], Path],
    hint: str,
) -> None:
    (tmp_path / "notes.txt").write_text("不是图片")
    bad = make(tmp_path)
    await rider.script("/report", "tap:产品质量")
    said = await rider.say(f"!doc {bad}")
    assert hint in said.text
    assert "照片好了" not in " ".join(said.labels())
    assert stored_photos(settings) == []
    assert "收到第1张" in (await rider.say(f"!photo {images.photo(tmp_path / 'ok.jpg')}")).text


async def test_wrong_kinds_of_input_at_each_step_change_nothing(
    app: App, rider: Chat, tmp_path: Path
) -> None:
    await rider.script("/report", "tap:特种设备")
    assert "请发照片" in (await rider.say("电梯坏了")).text
    for seed in range(5):
        await rider.say(f"!photo {images.photo(tmp_path / f'{seed}.jpg', seed=seed + 10)}")
    sixth = await rider.say(f"!photo {images.photo(tmp_path / '6.jpg', seed=99)}")
    assert "最多5张" in sixth.text
    await rider.tap("照片好了（5张）")
    assert "不在服务范围内" in (await rider.say("!loc 48.8566 2.3522")).text
    assert "不在服务范围内" in (await rider.say("!loc -33.86 151.2")).text
    assert "在海上" in (await rider.say("!loc 20.0 115.0")).text
    await rider.say("!loc 31.2304 121.4737")
    assert "太长了" in (await rider.say("电" * 1001)).text
    summary = await rider.say("电" * 1000)
    assert "照片：5张" in summary.text


async def test_a_grievance_can_be_anonymous_and_spoken(
    app: App, rider: Chat, tmp_path: Path
) -> None:
    voice = tmp_path / "v.amr"
    voice.write_bytes(b"#!AMR\n" + bytes(200))
    await rider.script("/start", "tap:我有诉求", "tap:权益保障")
    asked = await rider.tap("罚款")
    assert "具体情况" in asked.text
    await rider.say(f"!voice {voice}")
    await rider.tap("跳过")
    await rider.tap("跳过")
    summary = await rider.tap("匿名")
    assert "说明：🎤 语音" in summary.text and "署名：🙈 匿名提交" in summary.text
    ref = ref_in((await rider.tap("确认提交")).text, "SQ")
    report = await report_of(app, ref)
    assert report.anonymous and report.voice and report.subcategory == "penalties"
    assert (app.settings.media_dir / "voice").exists()
    await rider.say("/records")
    assert "说明：🎤 语音" in (await rider.tap(ref)).text
    exported = (await Chat(app, "admin").say("/export grievances json")).last.document
    assert exported is not None
    rows = json.loads(await asyncio.to_thread(Path(exported).read_text, encoding="utf-8"))
    assert rows[0]["voice"] == f"voice/{report.voice[:2]}/{report.voice}"


async def test_grievances_of_a_kind_gather_me_too(app: App, tmp_path: Path) -> None:
    first = Chat(app, "a")
    await first.script(
        "/grievance", "tap:充电难", "没地方充电", "tap:跳过", "tap:跳过", "tap:显示我的名字"
    )
    ref = ref_in((await first.tap("确认提交")).text, "SQ")
    second = Chat(app, "b")
    offer = await second.script("/grievance", "tap:充电难")
    assert f"{ref}「没地方充电」（1人反映）" in offer.text
    joined = await second.tap("我也遇到了")
    assert f"已加入 {ref}" in joined.text
    third = Chat(app, "c")
    assert (
        f"{ref}「没地方充电」（2人反映）" in (await third.script("/grievance", "tap:充电难")).text
    )
    assert "同类诉求" not in (await Chat(app, "d").script("/grievance", "tap:停车难")).text


async def test_a_nearby_hazard_is_offered_and_a_far_one_is_not(app: App, tmp_path: Path) -> None:
    ref = await file_hazard(
        Chat(app, "a"), images.photo(tmp_path / "a.jpg", seed=1), PEOPLES_SQUARE
    )
    far = Chat(app, "far")
    await far.script(
        "/report", "tap:食品安全", f"!photo {images.photo(tmp_path / 'f.jpg')}", "tap:照片好了"
    )
    assert "同一个吗" not in (await far.say(f"!loc {FAR[0]} {FAR[1]}")).text
    other_kind = Chat(app, "drug")
    await other_kind.script("/report", "tap:药品", f"!photo {tmp_path / 'f.jpg'}", "tap:照片好了")
    assert "同一个吗" not in (await other_kind.say(f"!loc {NEAR[0]} {NEAR[1]}")).text
    near = Chat(app, "near")
    await near.script(
        "/report",
        "tap:食品安全",
        f"!photo {images.photo(tmp_path / 'n.jpg', seed=3)}",
        "tap:照片好了",
    )
    offer = await near.say(f"!loc {NEAR[0]} {NEAR[1]}")
    assert "同一个吗" in offer.text and f"{ref}（约100米，1人反映）" in offer.text
    assert offer.last.photo is not None
    assert await asyncio.to_thread(Path(offer.last.photo).is_file)
    assert offer.labels()[0].startswith("🆕")
    await near.tap("我也遇到了")
    async with app.db.transaction() as tx:
        report = await reports.get(tx, ref)
        assert report is not None
        assert await reports.reporters(tx, report.id) == ["console:a", "console:near"]
        assert len(await reports.photos(tx, report.id)) == 2


async def test_status_changes_reach_reporter_and_co_reporters(app: App, tmp_path: Path) -> None:
    first, second, admin = Chat(app, "a"), Chat(app, "b"), Chat(app, "admin")
    ref = await file_hazard(first, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    await second.script(
        "/lang en",
        "/report",
        "tap:Food",
        f"!photo {tmp_path / 'a.jpg'}",
        "tap:Done",
        f"!loc {NEAR[0]} {NEAR[1]}",
        "tap:Me too",
    )
    said = await admin.say(f"/setstatus {ref} acknowledged")
    assert [r.text for r in said.to("a")] == [f"📢 您的随手拍 {ref}：已受理。"]
    assert [r.text for r in said.to("b")] == [f"📢 Your hazard report {ref}: acknowledged."]
    assert "已通知骑手" in said.to("admin")[0].text
    forwarded = await admin.say(f"/setstatus {ref} forwarded 转区市场监管局")
    assert "💬 转区市场监管局" in forwarded.to("a")[0].text
    history = await first.script("/records", f"tap:{ref}")
    assert (
        "已提交" in history.text and "已受理" in history.text and "转区市场监管局" in history.text
    )


async def test_admin_status_commands_refuse_what_cannot_be(
    app: App, rider: Chat, tmp_path: Path
) -> None:
    admin = Chat(app, "admin")
    ref = await file_hazard(rider, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    assert "没有权限" in (await rider.say(f"/setstatus {ref} resolved 好了")).text
    assert "用法" in (await admin.say("/setstatus")).text
    assert "没有找到" in (await admin.say("/setstatus YH-20990101-0001 acknowledged")).text
    assert "没有「done」" in (await admin.say(f"/setstatus {ref} done")).text
    assert "需要写明说明" in (await admin.say(f"/setstatus {ref} rejected")).text
    assert "另一个编号" in (await admin.say(f"/setstatus {ref} duplicate 同上")).text
    assert (await report_of(app, ref)).status == "submitted"
    await admin.say(f"/setstatus {ref} rejected 不属于市场监管范围")
    assert "不能改成" in (await admin.say(f"/setstatus {ref} acknowledged")).text
    assert (await report_of(app, ref)).status == "rejected"


async def test_a_rider_rates_after_resolution_and_may_reopen_once(
    app: App, rider: Chat, tmp_path: Path
) -> None:
    admin = Chat(app, "admin")
    ref = await file_hazard(rider, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    resolved = await admin.say(f"/setstatus {ref} resolved 商家已下架过期食品")
    assert "🔁 没解决，重新打开" in resolved.labels()
    reopened = await rider.tap("重新打开")
    assert "已重新打开" in reopened.text
    assert [r.text for r in reopened.to("admin")] == [f"🔁 {ref} 被骑手重新打开了。"]
    assert (await report_of(app, ref)).status == "in_progress"
    again = await admin.say(f"/setstatus {ref} resolved 已再次核查")
    assert "🔁 没解决，重新打开" not in again.labels()
    assert "重新打开过一次" in await press(app, f"m:reopen:{ref}")
    asked = await rider.tap("4⭐")
    assert "还想说点什么" in asked.text
    await rider.say("处理得很快")
    report = await report_of(app, ref)
    assert (report.status, report.rating, report.rating_comment) == ("closed", 4, "处理得很快")
    assert report.reopened
    assert "不能评价" in await press(app, f"m:rate:{ref}:5")
    assert "已经过期" in await press(app, f"m:rate:{ref}:9")
    assert "按钮无效" in await press(app, f"m:rate:{ref}:5", user="console:intruder")


async def test_reference_numbers_stay_unique_when_many_submit_at_once(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    apps = [await App.open(settings, clock) for _ in range(2)]
    try:
        chats = [Chat(apps[n % 2], f"r{n}") for n in range(12)]
        for n, chat in enumerate(chats):
            await chat.script(
                "/grievance", "tap:饮水难", f"第{n}个", "tap:跳过", "tap:跳过", "tap:匿名"
            )
        await asyncio.gather(*(chat.tap("确认提交") for chat in chats))
        told = []
        for chat in chats:
            for message in await outbox_to(apps[0], f"console:{chat.user}"):
                if "诉求已提交" in message.reply.text:
                    told.append(ref_in(message.reply.text, "SQ"))
        told.sort()
        async with apps[0].db.transaction() as tx:
            stored = sorted(r.ref for r in await reports.of_kind(tx, "grievance"))
        assert told == stored == [f"SQ-20261201-{n:04d}" for n in range(1, 13)]
    finally:
        for opened in apps:
            await opened.close()


async def test_exported_text_is_never_a_formula_and_csv_opens_in_excel(app: App) -> None:
    rider = Chat(app, "rider")
    attack = '=HYPERLINK("http://example.invalid/x","点我")'
    await rider.script("/grievance", "tap:饮水难", attack, "tap:跳过", "tap:跳过")
    await rider.script("tap:可以显示", "tap:确认提交")
    admin = Chat(app, "admin")
    xlsx = (await admin.say("/export grievances xlsx")).last.document
    csv_file = (await admin.say("/export grievances csv")).last.document
    assert xlsx and csv_file and xlsx != csv_file
    book = await asyncio.to_thread(load_workbook, xlsx)
    sheet = book.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    described = sheet.cell(row=2, column=header.index("description") + 1)
    assert described.data_type == "s" and described.value == attack
    raw = await asyncio.to_thread(Path(csv_file).read_bytes)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0]["description"] == "'" + attack
