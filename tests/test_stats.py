"""The statistics admins read: rates and medians as SQLite computes them, from a snapshot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import App
from bot.clock import ManualClock
from handlers.stats import gather
from storage.db import Database
from tests.chat import Chat
from tests.test_reports import ref_in


async def grievance(rider: Chat) -> str:
    """A grievance about drinking water, a new one even when others asked the same."""
    asked = await rider.script("/grievance", "tap:饮水难")
    if any("新问题" in label for label in asked.labels()):
        await rider.tap("新问题")
    done = await rider.script(
        "没有地方喝水", "tap:跳过", "tap:跳过", "tap:可以显示", "tap:确认提交"
    )
    return ref_in(done.text, "SQ")


async def test_rates_and_median_hours_follow_what_handlers_did(
    app: App, clock: ManualClock
) -> None:
    admin, rider = Chat(app, "admin"), Chat(app, "rider")
    first = await grievance(rider)
    second = await grievance(Chat(app, "second"))
    await grievance(Chat(app, "third"))
    clock.advance(timedelta(hours=2))
    await admin.say(f"/setstatus {first} acknowledged")
    clock.advance(timedelta(hours=2))
    await admin.say(f"/setstatus {second} acknowledged")
    clock.advance(timedelta(hours=6))
    await admin.say(f"/setstatus {first} resolved 已协调商场开放饮水点")
    await rider.tap("5⭐")

    figures = await app.db.read_snapshot(gather)
    handled = figures["handling"]
    assert handled["total"] == 3
    assert handled["response_rate"] == 0.667
    assert handled["resolution_rate"] == 0.333
    assert handled["satisfaction_rate"] == 1.0
    assert handled["median_hours_to_acknowledge"] == 3.0
    assert handled["median_hours_to_resolve"] == 10.0
    shown = (await admin.say("/stats")).text
    assert "响应率 67%｜解决率 33%｜满意率 100%" in shown
    assert "受理用时中位数 3 小时，解决用时中位数 10 小时" in shown


async def test_items_handled_before_the_upgrade_count_in_the_medians(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = await Database.open(path, target_version=17)
    async with old.transaction() as tx:
        await tx.execute("INSERT INTO users (id, created_at, last_seen_at) VALUES ('r', 'x', 'x')")
        for number, (ack, resolve) in enumerate([("03:00", "09:00"), ("02:00", None)], start=1):
            await tx.execute(
                "INSERT INTO reports (id, ref, kind, category, reporter, status, created_at, "
                "updated_at) VALUES (?, ?, 'grievance', 'water', 'r', 'in_progress', "
                "'2026-12-01T01:00:00.000000Z', 'x')",
                (number, f"SQ-{number}"),
            )
            moves = [("r", None, "submitted", "01:00"), ("admin", "submitted", "ack", ack)]
            if resolve:
                moves.append(("admin", "ack", "resolved", resolve))
            for actor, before, after, at in moves:
                await tx.execute(
                    "INSERT INTO report_history (report_id, at, actor, from_status, to_status) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (number, f"2026-12-01T{at}:00.000000Z", actor, before, after),
                )
    await old.close()
    upgraded = await Database.open(path)
    try:
        handled = (await upgraded.read_snapshot(gather))["handling"]
    finally:
        await upgraded.close()
    assert handled["median_hours_to_acknowledge"] == 1.5
    assert handled["median_hours_to_resolve"] == 8.0
