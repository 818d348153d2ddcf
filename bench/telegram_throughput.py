"""Throughput of the full stack on Telegram, beside two baselines, on one local Bot API server.

Not a test: it prints one JSON line. The server and its riders run in a process of their own
(``bench/outside.py``), so each bot has this process to itself. Riders run in a closed loop
(send, wait for the answer, send again) through the grievance flow: seven steps, every one
durable in SQLite. Baselines: (a) a bare python-telegram-bot echo bot; (b) the same flow
written the usual way, with a ConversationHandler and PicklePersistence.
Run: ``python bench/telegram_throughput.py``.

Two rounds: ``telegram_limits`` sends through the rate limiter at Telegram's 30 messages/s, the
ceiling in production, so it compares messages per update; ``capacity`` lifts the limits in all
three bots, so it compares the handling itself.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

from bench.outside import Outside, run_bot
from bot.config import Secret, Settings
from bot.transports.telegram import UNLIMITED, Limits
from tests.fake_telegram import TOKEN, FakeTelegram

RIDERS = 50
ROUNDS = 4
Bot = Callable[[Outside, Path, Limits], Awaitable[dict[str, float]]]
# (what the rider does, the label of the button to tap or the text to send)
STEPS = (
    ("text", "/grievance"),
    ("tap", "饮水难"),
    ("tap-if-offered", "新问题"),
    ("text", "没有地方喝水"),
    ("tap", "跳过"),
    ("tap", "跳过"),
    ("tap", "匿名"),
    ("tap", "确认提交"),
)


def shows(server: FakeTelegram, rider: int, since: int, label: str) -> bool:
    """Whether the replies to the rider's last action show a button or key like ``label``."""
    replies = server.sent_to(rider)[since:]
    return any(label in text for c in replies for text in [*(t for t, _ in c.buttons), *c.keys])


def has_more(server: FakeTelegram, rider: int, than: int) -> bool:
    return len(server.sent_to(rider)) > than


async def ride(server: FakeTelegram, rider: int, latencies: list[float]) -> None:
    since = 0
    for _ in range(ROUNDS):
        for action, value in STEPS:
            if action == "tap":
                await server.wait_for(functools.partial(shows, server, rider, since, value), 60)
            if action == "tap-if-offered" and not shows(server, rider, since, value):
                continue
            since = len(server.sent_to(rider))
            if action == "text":
                await server.text(rider, value)
            else:
                await server.press(rider, value)
            started = time.perf_counter()
            answered = functools.partial(has_more, server, rider, since)
            await server.wait_for(answered, within=60)
            latencies.append(time.perf_counter() - started)


async def measure(server: FakeTelegram, _: object) -> dict[str, float]:
    """The riders' side, in the outside process."""
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(ride(server, 10_000 + n, latencies) for n in range(RIDERS)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    messages = sum(len(server.sent_to(10_000 + n)) for n in range(RIDERS))
    return {
        "updates": len(latencies),
        "updates_per_s": round(len(latencies) / elapsed, 1),
        "messages_per_update": round(messages / len(latencies), 2),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
    }


async def with_server(run: Bot, limits: Limits) -> dict[str, float]:
    """One bot against a fresh server; adds the CPU time the bot's process spent per update."""
    async with Outside(measure) as outside:
        with tempfile.TemporaryDirectory() as folder:
            cpu = time.process_time()
            figures = await run(outside, Path(folder), limits)
            cpu = time.process_time() - cpu
    updates = figures.pop("updates")
    return {**figures, "cpu_ms_per_update": round(cpu / updates * 1000, 2)}


async def nuanxin(outside: Outside, folder: Path, limits: Limits) -> dict[str, float]:
    settings = Settings(
        data_dir=folder,
        telegram_token=Secret(TOKEN),
        telegram_api_url=outside.api_url,
        telegram_file_url=outside.file_url,
    )
    return dict(await run_bot(outside, settings, limits))


def _builder(outside: Outside, limits: Limits) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(outside.api_url)
        .base_file_url(outside.file_url)
        .rate_limiter(AIORateLimiter(overall_max_rate=limits.overall_per_s))
        .concurrent_updates(True)
    )


KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton(label, callback_data=str(n))]
        for n, (action, label) in enumerate(STEPS)
        if action == "tap"
    ]
)
"""The baselines answer every step with the flow's buttons, so riders can tap through."""


async def run_plain(outside: Outside, application: Any) -> dict[str, float]:
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0.0, timeout=10)
        try:
            return dict(await outside.result())
        finally:
            await application.updater.stop()
            await application.stop()


async def echo(outside: Outside, _: Path, limits: Limits) -> dict[str, float]:
    """(a) Every update answered with one message; the flow's buttons are echoed back."""
    application = _builder(outside, limits).build()

    async def answer(update: Update, _: Any) -> None:
        if update.callback_query:
            await update.callback_query.answer()
        assert update.effective_chat
        await update.get_bot().send_message(
            update.effective_chat.id, "echo", reply_markup=KEYBOARD
        )

    application.add_handler(MessageHandler(filters.ALL, answer))
    application.add_handler(CallbackQueryHandler(answer))
    return await run_plain(outside, application)


async def conversation(outside: Outside, folder: Path, limits: Limits) -> dict[str, float]:
    """(b) The grievance flow as a ConversationHandler, persisted with PicklePersistence."""
    persistence = PicklePersistence(folder / "state.pickle")
    application = (
        _builder(outside, limits).persistence(persistence).concurrent_updates(False).build()
    )

    def ask(step: int) -> Callable[[Update, Any], Coroutine[Any, Any, int]]:
        async def handle(update: Update, context: Any) -> int:
            if update.callback_query:
                await update.callback_query.answer()
            context.user_data[f"step{step}"] = update.message.text if update.message else "tap"
            assert update.effective_chat
            await update.get_bot().send_message(
                update.effective_chat.id, f"step {step}", reply_markup=KEYBOARD
            )
            return step + 1 if step < len(steps) - 1 else ConversationHandler.END

        return handle

    steps = [action for action, _ in STEPS if action != "tap-if-offered"]
    states: dict[object, list[Any]] = {
        step: [MessageHandler(filters.TEXT, ask(step))]
        if action == "text"
        else [CallbackQueryHandler(ask(step))]
        for step, action in enumerate(steps)
        if step
    }
    application.add_handler(
        ConversationHandler(
            entry_points=[MessageHandler(filters.Regex("^/grievance"), ask(0))],
            states=states,
            fallbacks=[],
            name="grievance",
            persistent=True,
            per_message=False,
        )
    )
    return await run_plain(outside, application)


async def compare(limits: Limits) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "nuanxin": await with_server(nuanxin, limits),
        "bare_echo": await with_server(echo, limits),
        "conversationhandler_pickle": await with_server(conversation, limits),
    }
    ours = figures["nuanxin"]["updates_per_s"]
    figures["ratio_to_echo"] = round(ours / figures["bare_echo"]["updates_per_s"], 2)
    figures["ratio_to_conversationhandler"] = round(
        ours / figures["conversationhandler_pickle"]["updates_per_s"], 2
    )
    return figures


async def main() -> None:
    figures = {
        "riders": RIDERS,
        "updates_per_rider": ROUNDS * len(STEPS),
        "telegram_limits": await compare(Limits()),
        "capacity": await compare(UNLIMITED),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
