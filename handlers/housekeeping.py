"""A nightly sweep, so tables that record every delivery do not grow for ever."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from bot.clock import next_daily
from handlers.context import Context
from storage import housekeeping

HOUSEKEEPING = "housekeeping"
AT = time(3, 30)
"""Deep in the night, when riders are asleep and the database is quiet."""
KEEP_UPDATES = timedelta(days=14)
KEEP_SENT = timedelta(days=30)

log = logging.getLogger(__name__)


async def ensure(ctx: Context) -> None:
    due = next_daily(ctx.now, AT)
    await ctx.schedule(HOUSEKEEPING, f"{HOUSEKEEPING}:{due.date().isoformat()}", due, {})


async def sweep(ctx: Context) -> str:
    counts = await housekeeping.prune(ctx.tx, ctx.now - KEEP_UPDATES, ctx.now - KEEP_SENT)
    log.info("housekeeping removed %s", counts)
    await ensure(ctx)
    return "done"
