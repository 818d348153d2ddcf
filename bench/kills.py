"""Durability from outside: ``nuanxin telegram`` SIGKILLed again and again under riders.

Not a test: it prints one JSON line. A local Bot API server delivers every update until a
``getUpdates`` offset confirms it, as Telegram does. Riders walk the grievance flow in a
closed loop (send, wait for the answer, go on) while the bot is killed with SIGKILL at random
moments and started again at once. Counted from outside:

- ``updates_dropped``: updates confirmed to Telegram that never got an answer (the rider waits
  ``ANSWER_WAIT_S``, then starts the flow again);
- ``submissions_missing``: reference numbers a rider was told that the database lacks;
- ``filed_twice``: grievances stored more often than riders confirmed them;
- ``repeated_messages``: messages a rider received beyond one per update (a message sent just
  before a kill and sent again after it), also per kill.

Run: ``python bench/kills.py [--riders 60] [--kills 20] [--webhook]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.telegram_throughput import STEPS
from tests.cli import start_telegram
from tests.fake_telegram import FakeTelegram
from tests.local_server import free_port

ANSWER_WAIT_S = 30.0
REF = re.compile(r"SQ-\d{8}-\d{4}")


class Tally:
    def __init__(self) -> None:
        self.updates = 0
        self.dropped = 0
        self.confirms = Counter[int]()
        self.running = True


async def answered(server: FakeTelegram, rider: int, since: int) -> bool:
    try:
        await server.wait_for(lambda: len(server.sent_to(rider)) > since, ANSWER_WAIT_S)
    except TimeoutError:
        return False
    return True


def offered(server: FakeTelegram, rider: int, label: str) -> bool:
    """Whether the last reply shows a button like ``label`` (the "me too" offer)."""
    last = server.sent_to(rider)[-1:]
    return any(label in text for call in last for text, _ in call.buttons)


async def ride(server: FakeTelegram, rider: int, tally: Tally) -> None:
    while tally.running:
        for action, value in STEPS:
            since = len(server.sent_to(rider))
            if action == "tap-if-offered" and not offered(server, rider, value):
                continue
            try:
                if action == "text":
                    await server.text(rider, value)
                else:
                    await server.press(rider, value)
            except LookupError:
                break
            tally.updates += 1
            if value == "确认提交":
                tally.confirms[rider] += 1
            if not await answered(server, rider, since):
                tally.dropped += 1
                break


async def run(riders: int, kills: int, webhook: bool) -> dict[str, object]:
    server = FakeTelegram()
    await server.start()
    folder = Path(tempfile.mkdtemp())
    data = folder / "data"
    port = free_port() if webhook else None
    bot = await start_telegram(server, data, port)
    tally = Tally()
    crowd = [asyncio.create_task(ride(server, 20_000 + n, tally)) for n in range(riders)]
    started = time.perf_counter()
    try:
        for _ in range(kills):
            await asyncio.sleep(random.uniform(1.0, 3.0))
            bot.kill()
            await bot.wait()
            bot = await start_telegram(server, data, port)
        await asyncio.sleep(5)
        tally.running = False
        await asyncio.wait_for(asyncio.gather(*crowd), ANSWER_WAIT_S * 2)
        await asyncio.sleep(3)
    finally:
        bot.terminate()
        await bot.wait()
        await server.stop()
    elapsed = time.perf_counter() - started
    with sqlite3.connect(data / "nuanxin.db") as db:
        stored = Counter(
            row[0] for row in db.execute("SELECT reporter FROM reports WHERE kind = 'grievance'")
        )
        refs = {row[0] for row in db.execute("SELECT ref FROM reports")}
    told = {
        ref
        for rider in range(20_000, 20_000 + riders)
        for call in server.sent_to(rider)
        if "已提交" in call.text
        for ref in REF.findall(call.text)
    }
    received = sum(len(server.sent_to(20_000 + n)) for n in range(riders))
    answered_updates = tally.updates - tally.dropped
    repeated = max(0, received - answered_updates)
    filed_twice = sum(
        max(0, stored[f"telegram:{rider}"] - count) for rider, count in tally.confirms.items()
    )
    return {
        "receiving": "webhook" if webhook else "long polling",
        "riders": riders,
        "kills": kills,
        "seconds": round(elapsed, 1),
        "updates": tally.updates,
        "updates_dropped": tally.dropped,
        "submissions_told": len(told),
        "submissions_missing": len(told - refs),
        "filed_twice": filed_twice,
        "repeated_messages": repeated,
        "repeated_per_kill": round(repeated / kills, 2) if kills else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--riders", type=int, default=60)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--webhook", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.riders, args.kills, args.webhook))))


if __name__ == "__main__":
    main()
