"""A person's data under PIPL: withdrawal and erasure leave nothing behind, a copy on request."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime
from pathlib import Path

from bot.app import App
from bot.clock import CHINA, ManualClock
from bot.config import Settings
from storage import reports
from tests import images
from tests.chat import Chat
from tests.cli import nuanxin, run
from tests.test_declaration import UP_TO_POLITICAL
from tests.test_reports import PEOPLES_SQUARE, file_hazard, stored_photos
from tests.test_timers import at

PHONE, MASKED, NAME, STATION = "13800138000", "138****8000", "张三", "美团浦东张江站"
PLEDGE = "雨天慢一点，遇到隐患随手拍，安全第一"


async def declare(rider: Chat) -> None:
    await rider.script(*UP_TO_POLITICAL, "tap:中共党员", "江苏省盐城市某村党支部", "tap:是")
    await rider.script("tap:兼职社会监督员", PLEDGE, "tap:确认提交")


def rows_holding(database: Path, *needles: str) -> list[tuple[str, str]]:
    """(table, column) of every value in the database file that holds one of the needles."""
    found = []
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    if isinstance(text, str) and any(n in text for n in needles):
                        found.append((table, column))
    return found


def files_holding(data_dir: Path, *needles: str) -> list[str]:
    """Every file under the data directory whose bytes hold a needle (the database file and
    its write-ahead log included, so deleted rows that linger in free space count)."""
    encoded = [n.encode("utf-8") for n in needles]
    return [
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in encoded)
    ]


async def test_a_withdrawn_rider_leaves_no_name_phone_or_pledge_anywhere(
    app: App, rider: Chat, settings: Settings, tmp_path: Path
) -> None:
    admin = Chat(app, "admin")
    await declare(rider)
    assert "张三" in (await admin.say("/pending")).text
    ref = await file_hazard(rider, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    await admin.say(f"/setstatus {ref} acknowledged 张三 13800138000 反映属实")
    await rider.script("/report", "tap:药品", f"!photo {images.photo(tmp_path / 'b.jpg', seed=7)}")
    assert len(stored_photos(settings)) == 2
    await rider.say("取消")
    assert len(stored_photos(settings)) == 1, "the cancelled draft's photo stays on disk"

    await rider.say("/withdraw")
    done = await rider.tap("是")
    assert "已删除" in done.text
    card_edits = [r for r in done.to("admin") if r.edit_of is not None]
    assert card_edits and all("已撤回亮身份" in r.text for r in card_edits)

    needles = (PHONE, MASKED, NAME, STATION, PLEDGE, "中共党员", "某村党支部")
    assert rows_holding(settings.db_path, *needles) == []
    assert files_holding(settings.data_dir, PHONE, NAME, STATION, PLEDGE) == []
    async with app.db.transaction() as tx:
        report = await reports.get(tx, ref)
    assert report is not None and report.reporter == "console:rider"
    assert len(stored_photos(settings)) == 1
    card = await admin.say(f"/setstatus {ref} in_progress 处理中")
    assert "处理中" in card.to("rider")[0].text
    shown = (await admin.script("/pending", f"tap:{ref}")).text
    assert "骑手（已撤回身份）" in shown


async def test_a_rider_gets_a_copy_of_their_data_and_erases_it(
    app: App, rider: Chat, settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    admin = Chat(app, "admin")
    await declare(rider)
    closed = await file_hazard(rider, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    await admin.say(f"/setstatus {closed} rejected 不属于市场监管范围")
    still_open = await file_hazard(rider, images.photo(tmp_path / "b.jpg", seed=3), (31.3, 121.5))

    copy = await rider.say("/mydata")
    document = copy.last.document
    assert document is not None and document.endswith(".json")
    mine = json.loads(await asyncio.to_thread(Path(document).read_text, encoding="utf-8"))
    assert mine["tables"]["declarations"][0]["phone"] == PHONE
    assert {r["ref"] for r in mine["tables"]["reports"]} == {closed, still_open}
    assert "🗑 删除我的全部数据" in copy.labels()

    await rider.tap("删除我的全部数据")
    assert "还是" not in (await rider.tap("否")).text
    await rider.say("/mydata")
    await rider.tap("删除我的全部数据")
    erased = await rider.tap("是")
    assert "还有 1 个事项正在办理" in erased.text
    async with app.db.transaction() as tx:
        assert await reports.get(tx, closed) is None
        assert await reports.get(tx, still_open) is not None
    assert len(stored_photos(settings)) == 1
    assert rows_holding(settings.db_path, PHONE, NAME, STATION, PLEDGE) == []

    await admin.say(f"/setstatus {still_open} rejected 已核实无此问题")
    await at(app, clock, datetime(2026, 12, 2, 4, 0, tzinfo=CHINA))
    async with app.db.transaction() as tx:
        assert await reports.get(tx, still_open) is None
    assert stored_photos(settings) == []
    left = set(rows_holding(settings.db_path, "console:rider"))
    assert left <= {("audit_log", "actor"), ("audit_log", "target"), ("outbox", "recipient")}


async def test_admins_export_and_erase_a_person_on_request_and_both_are_audited(
    app: App, rider: Chat, settings: Settings, tmp_path: Path
) -> None:
    await declare(rider)
    data = ("--data-dir", str(settings.data_dir))
    copy = json.loads(nuanxin("admin", "subject-export", PHONE, *data, cwd=tmp_path))
    assert copy["user"] == "console:rider"
    assert copy["tables"]["declarations"][0]["name"] == NAME
    out = tmp_path / "copy.json"
    nuanxin("admin", "subject-export", "console:rider", "--out", str(out), *data, cwd=tmp_path)
    assert json.loads(out.read_text(encoding="utf-8"))["user"] == "console:rider"

    said = await asyncio.to_thread(nuanxin, "admin", "erase", "console:rider", *data, cwd=tmp_path)
    assert "console:rider" in said and "已删除" in said
    assert rows_holding(settings.db_path, PHONE, NAME, STATION, PLEDGE) == []
    assert files_holding(settings.data_dir, PHONE, NAME) == []
    audit = nuanxin("admin", "audit", *data, cwd=tmp_path)
    actions = [line.split("\t")[1:4] for line in audit.splitlines()]
    assert [a[1:] for a in actions if a[0].startswith("cli:")] == [
        ["subject_export", "console:rider"],
        ["subject_export", "console:rider"],
        ["erase", "console:rider"],
    ]
    unknown = run("admin", "erase", "13900000000", *data, cwd=tmp_path)
    assert unknown.returncode == 2 and "没有找到用户「13900000000」" in unknown.stderr
