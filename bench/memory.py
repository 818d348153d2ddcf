"""Memory and answer times while the largest accepted images are decoded.

Not a test: it prints one JSON line. Six riders at the photo step of a hazard report each send,
at the same moment, a PNG of 7000×7000 RGBA pixels as a document (small on the wire, some 200
MB once decoded); meanwhile another rider keeps asking for /help. The bot runs in this process
against a local Bot API server; the figures are this process's resident memory at its peak
(while the six are handled) and after, and the other rider's answer times.
Run: ``python bench/memory.py``.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App
from bot.config import Secret, Settings
from bot.transports.telegram import UNLIMITED, TelegramRunner
from tests.fake_telegram import TOKEN, FakeTelegram

SENDERS = range(30_000, 30_006)
PROBE = 31_000
SIDE = 7000


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def giant_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (SIDE, SIDE), (200, 30, 30, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


async def probe(server: FakeTelegram, stop: asyncio.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        count = len(server.sent_to(PROBE)) + 1
        started = time.perf_counter()
        await server.text(PROBE, "/help")
        await server.wait_sent(PROBE, count, within=30)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)


async def to_photo_step(server: FakeTelegram, rider: int) -> None:
    await server.text(rider, "/report")
    await server.wait_sent(rider, 1)
    await server.press(rider, "食品")
    await server.wait_sent(rider, 2)


async def measure(server: FakeTelegram) -> dict[str, object]:
    picture = giant_png()
    await asyncio.gather(*(to_photo_step(server, rider) for rider in SENDERS))
    await server.text(PROBE, "/help")
    await server.wait_sent(PROBE, 1)
    latencies: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(server, stop, latencies))
    gc.collect()
    before = rss_mb("VmRSS")
    reset_peak()
    started = time.perf_counter()
    for rider in SENDERS:
        await server.photo(rider, picture, as_document=True)
    await asyncio.gather(*(server.wait_sent(rider, 3, within=120) for rider in SENDERS))
    handled_s = time.perf_counter() - started
    stop.set()
    await prober
    peak = rss_mb("VmHWM")
    gc.collect()
    await asyncio.sleep(2)
    ordered = sorted(latencies)
    answers = [server.sent_to(rider)[-1].text for rider in SENDERS]
    return {
        "images": len(SENDERS),
        "png_bytes": len(picture),
        "pixels": f"{SIDE}x{SIDE} RGBA",
        "seconds_to_answer_all": round(handled_s, 1),
        "answers": sorted(set(answers)),
        "rss_before_mb": round(before),
        "rss_peak_mb": round(peak),
        "rss_after_mb": round(rss_mb("VmRSS")),
        "other_rider_answers": len(ordered),
        "other_rider_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "other_rider_p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


async def main() -> None:
    server = FakeTelegram()
    await server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                data_dir=Path(folder),
                telegram_token=Secret(TOKEN),
                telegram_api_url=server.api_url,
                telegram_file_url=server.file_url,
            )
            app = await App.open(settings)
            runner = TelegramRunner(app, settings, UNLIMITED)
            await runner.start()
            try:
                figures = await measure(server)
            finally:
                await runner.stop()
                await app.close()
    finally:
        await server.stop()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
