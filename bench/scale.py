"""How the bot's costs grow with its data: a district's year to a city's few years.

Not a test: for each size it builds a data directory with the project's own schema (items
half hazards, half grievances, over three years, a tenth still open, each with a photo, a
reporter and its history; 100k declared riders in 200 branches), then times what people do
against it through the real code: startup, an admin's and a secretary's /pending, a rider's
/records, the "me too" lookup, one secretary's digest, the deadline sweep's due timers, the
nightly sweep, /stats in chat and ``admin stats``, and every export (each in a process of its
own, so its peak memory is its own). It prints one JSON line per size; times are medians in
milliseconds (``_ms``) or seconds (``_s``), memory in MB.

Run: ``python bench/scale.py`` (10k, 100k and 1M items: some minutes and a few GB of disk),
or ``python bench/scale.py --sizes 10000,100000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from handlers import exports
from handlers.stats import gather
from storage import housekeeping, reports, timers
from storage.db import Database, read_snapshot
from storage.timefmt import to_db
from tests.chat import Chat

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
RIDERS = 100_000
BRANCHES = 200
SHANGHAI = (31.23, 121.47)
HAZARD_CATEGORIES = ("food", "drug", "product", "equipment", "other")
GRIEVANCE_CATEGORIES = ("water", "charging", "parking", "rest", "rights")
CLOSED = ("resolved", "closed", "rejected")
OPEN = ("submitted", "acknowledged", "in_progress", "forwarded")
EXPORTS = (
    ("hazards", "csv"),
    ("hazards", "json"),
    ("hazards", "xlsx"),
    ("hazards", "open311"),
    ("members", "csv"),
)
REPEAT = 5


def stamp(moment: datetime) -> str:
    return to_db(moment)


def parent_of(branch: int) -> int:
    """Ten committees under the district, the other branches spread under them."""
    return 1 if branch <= 11 else 2 + (branch - 2) % 10


def build(data_dir: Path, items: int) -> None:
    """Fills a fresh data directory: schema by the project's migrations, rows in bulk."""
    asyncio.run(_migrate(data_dir / "nuanxin.db"))
    conn = sqlite3.connect(data_dir / "nuanxin.db", isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    created = stamp(NOW - timedelta(days=1000))
    branches: list[tuple[int, str, str, str, str, int | None, str]] = [
        (1, "D00001", "区委", "district", "浦东新区", None, created)
    ]
    branches += [
        (n, f"B{n:05d}", f"第{n}支部", "station", "浦东新区", parent_of(n), created)
        for n in range(2, BRANCHES + 1)
    ]
    conn.executemany("INSERT INTO branches VALUES (?, ?, ?, ?, ?, ?, ?, '')", branches)
    staff = [(b[0], f"console:sec{b[0]}", "console:admin", created) for b in branches]
    conn.executemany("INSERT INTO secretaries VALUES (?, ?, ?, ?)", staff)
    people = [f"console:r{n}" for n in range(RIDERS)]
    conn.executemany(
        "INSERT INTO users (id, lang, created_at, last_seen_at) VALUES (?, 'zh', ?, ?)",
        ((u, created, created) for u in [*people, "console:admin", *(s[1] for s in staff)]),
    )
    conn.executemany(
        "INSERT INTO declarations (user_id, name, phone, platform, station, city, district, "
        "political_status, duty, pledge, status, consent_at, created_at, updated_at) "
        "VALUES (?, ?, ?, 'meituan', '张江站', '上海', '浦东新区', ?, 'volunteer', 'safety', "
        "?, ?, ?, ?)",
        (
            (
                u,
                f"骑手{n}",
                f"138{n:08d}",
                "member" if n % 7 == 0 else "masses",
                "verified" if n % 3 else "pending",
                created,
                created,
                created,
            )
            for n, u in enumerate(people)
        ),
    )
    conn.executemany(
        "INSERT INTO memberships VALUES (?, ?, ?)",
        ((u, 2 + n % (BRANCHES - 1), created) for n, u in enumerate(people)),
    )
    _items(conn, items)
    conn.execute("COMMIT")
    conn.close()


def _items(conn: sqlite3.Connection, items: int) -> None:
    rng = random.Random(items)
    chunk: list[tuple[object, ...]] = []
    history: list[tuple[object, ...]] = []
    side: list[tuple[object, ...]] = []
    for n in range(1, items + 1):
        kind = "hazard" if n % 2 else "grievance"
        category = rng.choice(HAZARD_CATEGORIES if kind == "hazard" else GRIEVANCE_CATEGORIES)
        at = NOW - timedelta(minutes=(items - n) * 1_500_000 // items)
        status = rng.choice(OPEN) if rng.random() < 0.1 else rng.choice(CLOSED)
        reporter = f"console:r{rng.randrange(RIDERS)}"
        ack = rng.uniform(0.2, 30)
        resolved = rng.uniform(ack, 120) if status in ("resolved", "closed") else None
        chunk.append(
            (
                n,
                f"{'YH' if kind == 'hazard' else 'SQ'}-{n:010d}",
                kind,
                category,
                f"第{n}件：路口积水，电动车打滑",
                SHANGHAI[0] + rng.uniform(-0.2, 0.2),
                SHANGHAI[1] + rng.uniform(-0.2, 0.2),
                reporter,
                2 + n % (BRANCHES - 1),
                status,
                stamp(at),
                stamp(at),
                ack if status != "submitted" else None,
                resolved,
                rng.choice((1, 2, 3, 4, 5)) if status == "closed" else None,
            )
        )
        side.append((n, reporter, stamp(at), f"{n:064x}"))
        history.append((n, stamp(at), reporter, None, "submitted"))
        if status != "submitted":
            history.append(
                (n, stamp(at + timedelta(hours=ack)), "console:sec2", "submitted", status)
            )
        if len(chunk) == 20_000 or n == items:
            _flush(conn, chunk, side, history)
            chunk, side, history = [], [], []


def _flush(
    conn: sqlite3.Connection,
    chunk: list[tuple[object, ...]],
    side: list[tuple[object, ...]],
    history: list[tuple[object, ...]],
) -> None:
    conn.executemany(
        "INSERT INTO reports (id, ref, kind, category, description, latitude, longitude, "
        "reporter, branch_id, status, created_at, updated_at, hours_to_ack, hours_to_resolve, "
        "rating) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        chunk,
    )
    conn.executemany(
        "INSERT INTO report_reporters VALUES (?, ?, ?)", ((i, u, at) for i, u, at, _ in side)
    )
    conn.executemany(
        "INSERT INTO report_photos VALUES (?, ?, ?, ?)", ((i, h, u, at) for i, u, at, h in side)
    )
    conn.executemany(
        "INSERT INTO report_history (report_id, at, actor, from_status, to_status) "
        "VALUES (?, ?, ?, ?, ?)",
        history,
    )


async def _migrate(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


async def measure(data_dir: Path) -> dict[str, object]:
    settings = Settings(data_dir=data_dir, admins=frozenset({"console:admin"}))
    started = time.perf_counter()
    app = await App.open(settings, ManualClock(NOW))
    figures: dict[str, object] = {"startup_s": round(time.perf_counter() - started, 2)}
    try:
        admin, secretary = Chat(app, "admin"), Chat(app, "sec2")
        rider = Chat(app, "r1")
        figures["pending_admin_ms"] = await timed(lambda: admin.say("/pending"))
        figures["pending_secretary_ms"] = await timed(lambda: secretary.say("/pending"))
        figures["records_ms"] = await timed(lambda: rider.say("/records"))

        async def me_too() -> object:
            async with app.db.reading() as tx:
                return await reports.open_near(tx, "food", *SHANGHAI, 250)

        async def digest() -> object:
            async with app.db.reading() as tx:
                return await reports.awaiting(tx, frozenset({2}))

        async def due() -> object:
            async with app.db.reading() as tx:
                return await timers.due(tx, NOW)

        async def sweep() -> object:
            async with app.db.transaction() as tx:
                return await housekeeping.prune(tx, NOW - timedelta(days=14), NOW)

        figures["me_too_ms"] = await timed(me_too)
        figures["digest_ms"] = await timed(digest)
        figures["deadline_due_ms"] = await timed(due)
        figures["nightly_sweep_ms"] = await timed(sweep)
        figures["stats_chat_ms"] = await timed(lambda: admin.say("/stats"))
    finally:
        await app.close()
    started = time.perf_counter()
    await read_snapshot(settings.db_path, gather)
    figures["stats_snapshot_ms"] = median_ms([time.perf_counter() - started])
    return figures


def export_figures(data_dir: Path) -> dict[str, object]:
    """Each export in a process of its own, so that its peak memory is its own."""
    figures: dict[str, object] = {}
    for what, fmt in EXPORTS:
        made = subprocess.run(
            [sys.executable, __file__, "--export", str(data_dir), what, fmt],
            capture_output=True,
            text=True,
            check=True,
        )
        one = json.loads(made.stdout)
        figures[f"export_{what}_{fmt}_s"] = one["s"]
        figures[f"export_{what}_{fmt}_peak_mb"] = one["peak_mb"]
    return figures


def export_one(data_dir: Path, what: str, fmt: str) -> None:
    """One export to a file, in this process: its time and this process's peak memory."""
    from bot.i18n import catalog

    out = data_dir / f"export.{fmt}"
    started = time.perf_counter()

    def made(conn: sqlite3.Connection) -> None:
        with out.open("wb") as target:
            exports.export(target, conn, what, fmt, catalog(), unmasked=False)

    asyncio.run(read_snapshot(data_dir / "nuanxin.db", made))
    seconds = round(time.perf_counter() - started, 2)
    out.unlink()
    print(json.dumps({"s": seconds, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def sizes(raw: str) -> Iterator[int]:
    return (int(part) for part in raw.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--export", nargs=3, metavar=("DATA", "WHAT", "FORMAT"))
    args = parser.parse_args()
    if args.export:
        export_one(Path(args.export[0]), args.export[1], args.export[2])
        return
    for items in sizes(args.sizes):
        with tempfile.TemporaryDirectory() as folder:
            data_dir = Path(folder)
            started = time.perf_counter()
            build(data_dir, items)
            built = round(time.perf_counter() - started, 1)
            figures = asyncio.run(measure(data_dir))
            figures.update(export_figures(data_dir))
            print(json.dumps({"items": items, "riders": RIDERS, "build_s": built, **figures}))


if __name__ == "__main__":
    main()
