"""A nightly sweep, so tables that record every delivery do not grow for ever, forms left
half-done do not keep their photos for ever, and erasures waiting for items to close finish."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from bot.clock import next_daily
from handlers.context import Context
from handlers.desk import LINK_LIFETIME
from handlers.personal_data import draft_files, drop_files, finish_erasures
from storage import conversations, housekeeping, personal, web

HOUSEKEEPING = "housekeeping"
AT = time(3, 30)
"""Deep in the night, when riders are asleep and the database is quiet."""
KEEP_UPDATES = timedelta(days=14)
KEEP_SENT = timedelta(days=30)
KEEP_DRAFTS = timedelta(days=7)

log = logging.getLogger(__name__)


async def ensure(ctx: Context) -> None:
    due = next_daily(ctx.now, AT)
    await ctx.schedule(HOUSEKEEPING, f"{HOUSEKEEPING}:{due.date().isoformat()}", due, {})


async def sweep(ctx: Context) -> str:
    counts = await housekeeping.prune(ctx.tx, ctx.now - KEEP_UPDATES, ctx.now - KEEP_SENT)
    drafts = await conversations.remove_idle(ctx.tx, ctx.now - KEEP_DRAFTS)
    drafted = [sha for draft in drafts for sha in draft_files(draft)]
    await drop_files(ctx.settings, set(drafted) - await personal.files_in_use(ctx.tx, drafted))
    counts["conversations"] = len(drafts)
    counts["erased_reports"] = await finish_erasures(ctx.tx, ctx.settings)
    await web.sweep(ctx.tx, ctx.now, LINK_LIFETIME)
    log.info("housekeeping removed %s", counts)
    await ensure(ctx)
    return "done"
