"""Broadcasts (/broadcast): admins to all riders, a branch or party members; secretaries to
their own branches. A preview and a confirmation first; then one copy per rider goes out with
the capacity that answers leave, while the author watches one progress message count up in
place and gets a final report. Riders who blocked the bot are marked and left out next time.

Copies are queued a thousand at a time, one statement each: the first thousand with the
confirmation, the rest by a timer that takes a chunk at a time, so a broadcast to a hundred
thousand riders never holds the database for long. A broadcast that is not urgent waits, as
a whole, for the riders' peak to end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import CHINA
from bot.events import Reply
from bot.i18n import DEFAULT_LANG, LANGS, Catalog
from handlers import engine
from handlers.branch_step import BranchStep
from handlers.context import Context
from handlers.engine import Flow
from handlers.quiet import peak_end
from handlers.steps import Choice, ChoiceStep, Draft, TextStep
from storage import audit, branches, broadcasts, outbox, users
from storage.db import Tx

AUDIENCES = tuple(Choice(a, f"broadcast.audience.{a}") for a in ("all", "branch", "party"))
URGENCY = (Choice("normal", "broadcast.normal"), Choice("urgent", "broadcast.urgent"))
PROGRESS_STEPS = 20
"""The progress message is edited about this many times, whatever the audience's size."""


class BroadcastFlow(Flow):
    name = "broadcast"
    title_key = "broadcast.title"
    summary_title_key = "broadcast.preview"
    steps = (
        ChoiceStep(
            name="audience",
            field="audience",
            prompt_key="broadcast.ask_audience",
            label_key="broadcast.field.audience",
            choices=AUDIENCES,
            per_row=1,
        ),
        BranchStep(
            label_key="broadcast.field.branch",
            prompt_key="broadcast.ask_branch",
            when=lambda draft: draft.get("audience") == "branch",
        ),
        TextStep(
            name="text",
            field="text",
            prompt_key="broadcast.ask_text",
            label_key="broadcast.field.text",
            max_len=1000,
        ),
        ChoiceStep(
            name="urgency",
            field="urgency",
            prompt_key="broadcast.ask_urgency",
            label_key="broadcast.field.urgency",
            choices=URGENCY,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        branch = await branches.by_code(ctx.tx, draft["branch"]) if "branch" in draft else None
        if draft["audience"] != "branch" and not ctx.is_admin:
            await ctx.say("hint.not_allowed")
            return
        if branch is not None and not ctx.handles(branch.id):
            await ctx.say("hint.not_allowed")
            return
        branch_id = branch.id if branch else None
        total = await broadcasts.count_recipients(
            ctx.tx, draft["audience"], branch_id, ctx.user.id
        )
        if not total:
            await ctx.say("broadcast.nobody")
            return
        broadcast_id = await broadcasts.create(
            ctx.tx,
            ctx.user.id,
            draft["audience"],
            branch_id,
            draft["text"],
            draft["urgency"] == "urgent",
            total,
            ctx.now,
        )
        await audit.record(
            ctx.tx,
            ctx.actor,
            "broadcast",
            branch.code if branch else draft["audience"],
            ctx.now,
            f"{total} {draft['urgency']}",
        )
        held_until = None if draft["urgency"] == "urgent" else peak_end(ctx.settings, ctx.now)
        if held_until is None:
            await queue_chunk(ctx, broadcast_id, "")
        else:
            await ctx.schedule(
                FAN_OUT, f"{FAN_OUT}:{broadcast_id}:", held_until, {"id": broadcast_id}
            )
        await ctx.say("broadcast.progress", sent=0, failed=0, blocked=0, total=total)
        await broadcasts.set_progress_message(ctx.tx, broadcast_id, ctx.sent[-1])
        if held_until is not None:
            await ctx.say("broadcast.held", when=held_until.astimezone(CHINA).strftime("%H:%M"))


FAN_OUT = "broadcast"
"""The timer that queues a broadcast's next chunk of copies."""
AHEAD = 2000
"""Copies queued ahead of delivery: enough that sending never waits for the next chunk,
few enough that queuing a hundred thousand is spread over the broadcast instead of holding
the database from the start (each chunk is a transaction answers would wait behind)."""
CHUNK = 250
"""Copies queued in one transaction: a few milliseconds of the database's time, which an
answer arriving then waits (a thousand took ten to fifteen)."""
LOOK_AGAIN = timedelta(seconds=1)


async def queue_chunk(ctx: Context, broadcast_id: int, after: str) -> str:
    """Queues the next chunk of copies after user ``after`` once fewer than ``AHEAD`` wait
    to be sent (else looks again in a second); another timer takes the chunk after it."""
    audience = await broadcasts.audience_of(ctx.tx, broadcast_id)
    if audience is None:
        return "gone"
    if await broadcasts.waiting_copies(ctx.tx, broadcast_id) >= AHEAD:
        due = ctx.now + LOOK_AGAIN
        key = f"{FAN_OUT}:{broadcast_id}:{after}@{due.timestamp():.0f}"
        await ctx.schedule(FAN_OUT, key, due, {"id": broadcast_id, "after": after})
        return "waiting"
    payloads = {
        lang: Reply(text=ctx.catalog.t(lang, "broadcast.copy", text=audience.text)).to_json()
        for lang in LANGS
    }
    last = await broadcasts.queue_copies(
        ctx.tx,
        broadcast_id,
        audience.audience,
        audience.branch_id,
        audience.author,
        payloads,
        DEFAULT_LANG,
        ctx.now,
        after=after,
        limit=CHUNK,
    )
    if last is not None:
        payload = {"id": broadcast_id, "after": last}
        await ctx.schedule(FAN_OUT, f"{FAN_OUT}:{broadcast_id}:{last}", ctx.now, payload)
    return "sent"


BROADCAST = BroadcastFlow()


async def start_broadcast(ctx: Context, _: str) -> None:
    """Secretaries address only their branches, so they skip the audience question."""
    await engine.begin(ctx, BROADCAST, None if ctx.is_admin else {"audience": "branch"})


async def on_delivery(tx: Tx, catalog: Catalog, tally: broadcasts.Tally, now: datetime) -> bool:
    """After copies were counted: edit the progress message each time another step of
    copies is done, and report when the last one is. True when that queued a message."""
    broadcast, counts, done = tally.broadcast, tally.counts, tally.done
    step = max(1, broadcast.total // PROGRESS_STEPS)
    if done // step == tally.before // step and done < broadcast.total:
        return False
    lang = await users.lang_of(tx, broadcast.author)
    figures = {
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "blocked": counts.get("blocked", 0),
        "total": broadcast.total,
    }
    held = counts.get("held", 0)
    progress = Reply(
        text=catalog.t(lang, "broadcast.progress", **figures),
        edit_of=broadcast.progress_message,
    )
    await outbox.add(tx, broadcast.author, progress, now)
    if done >= broadcast.total:
        await broadcasts.finish(tx, broadcast.id, now)
        done_text = catalog.t(lang, "broadcast.done", **figures)
        if held:
            done_text += "\n" + catalog.t(lang, "broadcast.held_for_reply", held=held)
        await outbox.add(tx, broadcast.author, Reply(text=done_text), now)
    return True
