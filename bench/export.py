"""Riders' answers while an admin's export of a million items is being written.

Not a test: it prints one JSON line per format. The bot runs in this process, and a local Bot
API server with the riders in a process of their own (``bench/outside.py``). The bot works on
a copy of a data directory built as ``bench/scale.py`` builds it (a copy per format: the local
server numbers its updates from 1 each time, and the bot remembers the ones it handled). Ten
probe riders ask for /help, each again a second after its answer: first with nothing else
going on, then from the admin's ``/export hazards FORMAT`` until the file has arrived; their
p99 answer times are compared.
Run: ``python bench/export.py [--items 1000000] [--formats csv,xlsx]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.broadcast import ADMIN, PROBES, WINDOW_S, bot_settings, probe, probing, summary
from bench.outside import Outside, run_bot
from bench.scale import build
from bot.transports.telegram import UNLIMITED
from tests.fake_telegram import FakeTelegram

WARM_UP_S = 10.0
"""Probes first answered while the bot sets up (staff's command menus) are not counted."""


async def during_export(server: FakeTelegram, fmt: str) -> tuple[dict[str, float], float]:
    """Probes from the admin's command until the file (or, past Telegram's 50 MB, the note
    saying where to get it) follows the word that it is being prepared; returns the probes'
    figures and how long the export took."""
    sent = len(server.sent_to(ADMIN))
    started = time.perf_counter()
    await server.text(ADMIN, f"/export hazards {fmt}")
    latencies: list[float] = []
    probing = [
        asyncio.create_task(probe(server, rider, float("inf"), latencies)) for rider in PROBES
    ]
    await server.wait_for(lambda: len(server.sent_to(ADMIN)) >= sent + 2, within=3600)
    took = time.perf_counter() - started
    for task in probing:
        task.cancel()
    await asyncio.gather(*probing, return_exceptions=True)
    return summary(latencies), took


async def exporting(server: FakeTelegram, fmt: str) -> dict[str, object]:
    """The riders' and the admin's side, in the outside process."""
    await probing(server, WARM_UP_S)
    quiet = await probing(server, WINDOW_S)
    during, took = await during_export(server, fmt)
    return {
        "format": fmt,
        "export_s": round(took, 1),
        "without_export": quiet,
        "during_export": during,
        "p99_ratio": round(during["p99_ms"] / quiet["p99_ms"], 2),
    }


async def round_of(data_dir: Path, fmt: str) -> dict[str, object]:
    async with Outside(exporting, fmt) as outside:
        settings = bot_settings(outside.api_url, outside.file_url, data_dir)
        return dict(await run_bot(outside, settings, UNLIMITED))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        built = Path(folder) / "built"
        built.mkdir()
        build(built, args.items)
        for fmt in args.formats.split(","):
            data_dir = Path(folder) / fmt
            data_dir.mkdir()
            shutil.copy(built / "nuanxin.db", data_dir / "nuanxin.db")
            figures = asyncio.run(round_of(data_dir, fmt))
            print(json.dumps({"items": args.items, **figures}), flush=True)
            shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
