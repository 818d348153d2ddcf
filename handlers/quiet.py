"""Quiet hours: during riders' peaks a non-urgent push waits, as a timer, until the peak ends.

Urgent pushes (a status answer, a reminder an hour before an activity) go at once; what can
wait (invitations, early reminders, broadcasts not marked urgent) waits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from bot.clock import CHINA
from bot.config import Settings
from bot.events import Reply
from handlers.context import Context
from storage import outbox

HELD = "push"


def peak_end(settings: Settings, now: datetime) -> datetime | None:
    """When the peak ``now`` falls in ends; None outside the peaks."""
    local = now.astimezone(CHINA)
    for start, end in settings.quiet_hours:
        if start <= local.time() < end:
            return datetime.combine(local.date(), end, tzinfo=CHINA)
    return None


async def push_when_quiet(
    ctx: Context, recipient: str, reply: Reply, broadcast_id: int | None = None
) -> datetime | None:
    """Sends now, or holds until the peak ends; returns the release time when held."""
    release = peak_end(ctx.settings, ctx.now)
    if release is None:
        await outbox.add(ctx.tx, recipient, reply, ctx.now, broadcast_id, bulk=ctx.bulk)
        return None
    payload: dict[str, object] = {
        "to": recipient,
        "reply": reply.to_json(),
        "broadcast": broadcast_id,
    }
    await ctx.schedule(HELD, f"push:{uuid.uuid4().hex}", release, payload)
    return release


async def release(ctx: Context, payload: dict[str, object]) -> str:
    broadcast_id = payload.get("broadcast")
    await outbox.add(
        ctx.tx,
        str(payload["to"]),
        Reply.from_json(str(payload["reply"])),
        ctx.now,
        int(broadcast_id) if isinstance(broadcast_id, int) else None,
        bulk=True,
    )
    return "sent"
