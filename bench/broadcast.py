"""Riders' answers during a broadcast to 100,000 riders, and how fast the broadcast drains.

Not a test: it prints one JSON line per round. The bot runs in this process with 100,000
riders in its database; a local Bot API server and the riders run in a process of their own
(``bench/outside.py``), so the copies' traffic costs the bot only its own side of it. Ten
probe riders ask for /help, each
again a second after its answer, first with no broadcast, then while an admin's broadcast to
all riders drains; their p99 answer time is compared. Two rounds: under Telegram's limits (30
messages/s: the broadcast would take about an hour, so its rate is measured over the probe's
window), and with the limits lifted (the broadcast is drained until the copy queued last
has arrived).
Run: ``python bench/broadcast.py [--riders 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outside import Outside, run_bot
from bot.app import App
from bot.config import Secret, Settings
from bot.transports.telegram import UNLIMITED, Limits
from storage import users
from tests.fake_telegram import TOKEN, FakeTelegram

ADMIN = 900
PROBES = range(1, 11)
THINK_S = 1.0
"""Each probe rider asks again a second after an answer (the first time at a random moment
within that second): ten of them leave most of Telegram's 30 messages a second to the
broadcast."""
WINDOW_S = 60.0
"""Each probing window: about 600 answers, so the p99 is set by the slowest six, not two."""
TEXT = "暴雨预警：今晚注意安全"


async def probe(server: FakeTelegram, rider: int, until: float, latencies: list[float]) -> None:
    await asyncio.sleep(random.uniform(0, THINK_S))
    while time.perf_counter() < until:
        count = len(server.sent_to(rider)) + 1
        started = time.perf_counter()
        await server.text(rider, "/help")
        await server.wait_sent(rider, count, within=120)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(THINK_S)


async def probing(server: FakeTelegram, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(probe(server, rider, until, latencies) for rider in PROBES))
    return summary(latencies)


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "answers": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


def copies(server: FakeTelegram) -> int:
    return sum(1 for call in server.calls if TEXT in call.text and call.chat_id != ADMIN)


async def start_broadcast(server: FakeTelegram) -> float:
    """The admin's flow; returns how long the confirmation took to be answered."""
    steps = (("say", "/broadcast"), ("tap", "所有骑手"), ("say", TEXT), ("tap", "紧急"))
    took = 0.0
    for action, value in (*steps, ("tap", "确认提交")):
        seen = server.sent_to(ADMIN)
        started = time.perf_counter()
        if action == "say":
            await server.text(ADMIN, value)
        else:
            await server.tap(ADMIN, next(d for t, d in seen[-1].buttons if value in t))
        await server.wait_sent(ADMIN, len(seen) + 1, within=120)
        took = time.perf_counter() - started
    return took


def bot_settings(api_url: str, file_url: str, data_dir: Path) -> Settings:
    """The bot on the local Bot API server, with one admin and no quiet hours."""
    return Settings(
        data_dir=data_dir,
        admins=frozenset({f"telegram:{ADMIN}"}),
        telegram_token=Secret(TOKEN),
        telegram_api_url=api_url,
        telegram_file_url=file_url,
        quiet_hours=(),
    )


async def broadcasting(server: FakeTelegram, riders: int | None) -> dict[str, object]:
    """The riders' side, in the outside process: probes without a broadcast, the admin's
    broadcast, probes during it, and (given how many riders it goes to) its end."""
    quiet = await probing(server, WINDOW_S)
    confirmation_s = await start_broadcast(server)
    before, started = copies(server), time.perf_counter()
    during = await probing(server, WINDOW_S)
    rate = (copies(server) - before) / (time.perf_counter() - started)
    figures: dict[str, object] = {
        "without_broadcast": quiet,
        "during_broadcast": during,
        "p99_ratio": round(during["p99_ms"] / quiet["p99_ms"], 2),
        "confirmation_answered_s": round(confirmation_s, 2),
        "copies_per_s_while_probing": round(rate, 1),
    }
    if riders is not None:
        last = 100_000 + riders - 1
        await server.wait_for(lambda: bool(server.sent_to(last)), within=3600)
        figures["all_copies_s"] = round(time.perf_counter() - started, 1)
        figures["copies_per_s"] = round(riders / (time.perf_counter() - started), 1)
    return figures


async def round_of(riders: int, limits: Limits, to_the_end: bool) -> dict[str, object]:
    async with Outside(broadcasting, riders if to_the_end else None) as outside:
        with tempfile.TemporaryDirectory() as folder:
            settings = bot_settings(outside.api_url, outside.file_url, Path(folder))

            async def crowd(app: App) -> None:
                async with app.db.transaction() as tx:
                    for n in range(riders):
                        await users.touch(tx, f"telegram:{100_000 + n}", app.clock.now())

            figures = await run_bot(outside, settings, limits, crowd)
    limited = "telegram" if limits.overall_per_s else "lifted"
    return {"limits": limited, "riders": riders, **figures}


async def main(riders: int) -> None:
    print(json.dumps(await round_of(riders, Limits(chat_per_s=None), to_the_end=False)))
    print(json.dumps(await round_of(riders, UNLIMITED, to_the_end=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--riders", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().riders))
