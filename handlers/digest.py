"""The daily digest to each secretary: what is new, what falls due soon, what is overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import next_daily
from handlers.context import Context
from storage import branches, reports

DIGEST = "digest"
LATE_LIMIT = timedelta(hours=12)
"""A digest that could not go out within this long after its hour is skipped: yesterday's
news is not news. Each digest schedules the next day's, so after a long stop the missed ones
are skipped one by one and today's, if due, goes out."""


def next_digest(ctx: Context, after: datetime) -> datetime:
    return next_daily(after, ctx.settings.digest_at)


async def ensure(ctx: Context) -> None:
    """There is always one digest ahead."""
    due = next_digest(ctx, ctx.now)
    await ctx.schedule(DIGEST, f"{DIGEST}:{due.date().isoformat()}", due, {})


async def send(ctx: Context, timer_due: datetime) -> str:
    following = next_digest(ctx, timer_due)
    await ctx.schedule(DIGEST, f"{DIGEST}:{following.date().isoformat()}", following, {})
    if ctx.now - timer_due > LATE_LIMIT:
        return "skipped_late"
    soon = ctx.now + timedelta(days=1)
    for secretary in sorted(await branches.all_secretaries(ctx.tx)):
        items = await reports.awaiting(ctx.tx, await branches.run_by(ctx.tx, secretary))
        new = sum(1 for r in items if ctx.now - r.created_at < timedelta(days=1))
        overdue = sum(1 for r in items if r.overdue_level)
        due_soon = sum(
            1
            for r in items
            if not r.overdue_level
            and any(d is not None and d <= soon for d in (r.ack_due_at, r.answer_due_at))
        )
        if new or overdue or due_soon:
            await ctx.push(secretary, "digest.text", new=new, soon=due_soon, overdue=overdue)
    return "sent"
