"""Nearest-station search at a national scale, on the R*Tree and by a full scan.

Not a test: it prints one JSON line. 200,000 stations are spread around 300 cities (most
stations are where riders are); 10,000 riders ask for the nearest five open stations within
the default radius, through the same function the bot uses. The same data is then searched by
a full scan (every station's distance, in SQL, nearest first) for a sample of the queries.
Run: ``python bench/stations.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import CHINA
from handlers.hours import parse_hours, to_json
from handlers.stations import nearest
from storage import stations
from storage.db import Database
from storage.stations import NewStation

STATIONS = 200_000
QUERIES = 10_000
SCANS = 200
CITIES = 300
RADIUS_M = 5000.0
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=CHINA)
HOURS = [to_json(parse_hours(h)) for h in ("24h", "08:00-22:00", "10:00-20:00", "17:00-02:00")]
AMENITIES = ("water", "charging", "microwave", "toilet", "rest")


def city_centres(rng: random.Random) -> list[tuple[float, float]]:
    return [(rng.uniform(22.0, 41.0), rng.uniform(102.0, 122.0)) for _ in range(CITIES)]


def around(
    rng: random.Random, centre: tuple[float, float], spread_deg: float
) -> tuple[float, float]:
    return centre[0] + rng.gauss(0, spread_deg), centre[1] + rng.gauss(0, spread_deg)


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def main() -> None:
    rng = random.Random(2026)
    centres = city_centres(rng)
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "bench.db")
        batch = [
            NewStation(
                f"驿站{n}",
                "station",
                "",
                *around(rng, rng.choice(centres), 0.15),
                rng.choice(HOURS),
                tuple(rng.sample(AMENITIES, 2)),
            )
            for n in range(STATIONS)
        ]
        async with db.transaction() as tx:
            await stations.add_many(tx, batch, NOW)
        riders = [around(rng, rng.choice(centres), 0.1) for _ in range(QUERIES)]

        timings, answered = [], 0
        async with db.transaction() as tx:
            for lat, lon in riders:
                started = time.perf_counter()
                found = await nearest(tx, lat, lon, NOW, RADIUS_M)
                timings.append(time.perf_counter() - started)
                answered += bool(found)

        scans = []
        async with db.transaction() as tx:
            for lat, lon in riders[:SCANS]:
                started = time.perf_counter()
                async with tx.execute(
                    "SELECT id FROM stations WHERE closed_at IS NULL "
                    "ORDER BY (latitude - ?) * (latitude - ?) + "
                    "(longitude - ?) * (longitude - ?) * 0.75 LIMIT 50",
                    (lat, lat, lon, lon),
                ) as cur:
                    await cur.fetchall()
                scans.append(time.perf_counter() - started)
        await db.close()

    timings.sort()
    scans.sort()
    index_median, scan_median = statistics.median(timings), statistics.median(scans)
    print(
        json.dumps(
            {
                "stations": STATIONS,
                "queries": QUERIES,
                "answered_share": round(answered / QUERIES, 3),
                "index_median_ms": round(index_median * 1000, 3),
                "index_p99_ms": round(percentile(timings, 0.99) * 1000, 3),
                "scan_queries": SCANS,
                "scan_median_ms": round(scan_median * 1000, 2),
                "scan_p99_ms": round(percentile(scans, 0.99) * 1000, 2),
                "speedup_median": round(scan_median / index_median, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
