"""The hot paths read through indexes: no statement they run scans a table that grows with
the work (items, their history, messages, deliveries), so they cost the same at a million
items as at ten. Every statement the scenario runs is recorded and planned by SQLite.
(Forms in progress are not such a table: one per rider mid-form, gone within 7 days.)"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

from bot.app import App
from bot.clock import CHINA, ManualClock
from tests import images
from tests.chat import Chat
from tests.test_reports import NEAR, PEOPLES_SQUARE, file_hazard
from tests.test_timers import at, grievance, tree

GROWING = (
    "reports",
    "report_history",
    "report_reporters",
    "report_photos",
    "outbox",
    "inbox",
    "processed_updates",
    "timers",
    "points",
    "declarations",
    "users",
    "checkins",
    "rsvps",
)
SCAN = re.compile(r"\bSCAN (\w+)(?! USING (?:COVERING )?INDEX)")


def full_scans(database: Path, statements: list[str]) -> dict[str, str]:
    """Statement → the growing table its plan reads from end to end."""
    found = {}
    with sqlite3.connect(database) as conn:
        for statement in statements:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
                continue
            plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
            for row in plan:
                match = SCAN.search(row[3])
                if match and match.group(1) in GROWING:
                    found[statement] = row[3]
    return found


async def test_the_hot_paths_use_indexes(app: App, clock: ManualClock, tmp_path: Path) -> None:
    admin, rider, secretary = Chat(app, "admin"), Chat(app, "rider"), Chat(app, "sec")
    code = await tree(admin)
    await rider.say(f"/join {code}")
    ref = await file_hazard(rider, images.photo(tmp_path / "a.jpg"), PEOPLES_SQUARE)
    await grievance(rider)

    statements: list[str] = []
    await app.db.watch(statements.append)
    await secretary.script("/pending", f"tap:{ref}")
    await admin.say("/pending")
    await rider.script("/records", f"tap:{ref}")
    await Chat(app, "other").script(
        "/report", "tap:食品安全", f"!photo {tmp_path / 'a.jpg'}", "tap:照片好了"
    )
    await Chat(app, "other").say(f"!loc {NEAR[0]} {NEAR[1]}")
    await grievance(Chat(app, "third"))
    await at(app, clock, datetime(2026, 12, 2, 9, 0, tzinfo=CHINA))
    await at(app, clock, datetime(2026, 12, 4, 9, 0, tzinfo=CHINA))
    await at(app, clock, datetime(2026, 12, 12, 9, 0, tzinfo=CHINA))
    await app.db.watch(None)

    assert len(statements) > 100
    assert full_scans(app.settings.db_path, statements) == {}
