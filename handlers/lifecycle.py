"""The status lifecycle of reports and grievances, and what the rider hears of it.

submitted → acknowledged → in progress / forwarded → resolved (with an answer) → closed;
or rejected (with a reason), or a duplicate of another reference. An item forwarded up is
the receiving organisation's to accept, forward again, resolve or reject. Every change is appended
to the history and pushed to the reporter and every co-reporter, in their own language.
"""

from __future__ import annotations

from bot.events import Button, Reply
from handlers import engine
from handlers.buttons import unpack
from handlers.context import Context, Label, rows
from handlers.engine import Flow
from handlers.report_steps import DescriptionStep
from handlers.routing import responsible
from handlers.steps import Draft
from storage import audit, outbox, reports
from storage.reports import Report

STATUSES = (
    "submitted",
    "acknowledged",
    "in_progress",
    "forwarded",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
)
_HANDLING = frozenset({"in_progress", "forwarded", "resolved", "rejected", "duplicate"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": _HANDLING | {"acknowledged"},
    "acknowledged": _HANDLING,
    "in_progress": _HANDLING - {"in_progress"},
    "forwarded": _HANDLING | {"acknowledged"},
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
    "rejected": frozenset(),
    "duplicate": frozenset(),
}
NEEDS_NOTE = frozenset({"resolved", "rejected", "duplicate", "forwarded"})


class StatusError(ValueError):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


async def change_status(
    ctx: Context, report: Report, to_status: str, note: str, *, reopening: bool = False
) -> None:
    """Checks the move, records it and tells everyone who reported the item."""
    if to_status not in STATUSES:
        raise StatusError("status.unknown", status=to_status, known=" ".join(STATUSES))
    if to_status not in TRANSITIONS[report.status]:
        raise StatusError(
            "status.impossible",
            ref=report.ref,
            status=Label(f"status.{report.status}"),
            to=Label(f"status.{to_status}"),
        )
    if to_status in NEEDS_NOTE and not note:
        raise StatusError("status.needs_note", to=Label(f"status.{to_status}"))
    if to_status == "duplicate":
        original = await reports.get(ctx.tx, note.split()[0])
        if original is None or original.id == report.id:
            raise StatusError("status.duplicate_of")
    await reports.set_status(
        ctx.tx, report, to_status, ctx.user.id, note, ctx.now, reopening=reopening
    )
    for reporter in await reports.reporters(ctx.tx, report.id):
        if reporter == ctx.user.id:
            continue
        message = await ctx.render_for(
            reporter,
            "status.changed_note" if note else "status.changed",
            ref=report.ref,
            kind=Label(f"kind.{report.kind}"),
            status=Label(f"status.{to_status}"),
            note=note,
        )
        if to_status == "resolved":
            message = Reply(text=message.text, buttons=rating_buttons(ctx, report))
        await ctx.send(reporter, message, about=report.ref)


def rating_buttons(ctx: Context, report: Report) -> tuple[tuple[Button, ...], ...]:
    stars = [ctx.menu_button("rating.star", "rate", report.ref, n, n=n) for n in range(1, 6)]
    again = [ctx.menu_button("button.reopen", "reopen", report.ref)] if not report.reopened else []
    return (tuple(stars), *rows(again, 1))


async def set_status_command(ctx: Context, arguments: str) -> None:
    """``/setstatus REF STATUS [note]``, for admins (secretaries get buttons later)."""
    ref, _, rest = arguments.partition(" ")
    to_status, _, note = rest.strip().partition(" ")
    if not ref or not to_status:
        await ctx.say("status.usage", known=" ".join(STATUSES))
        return
    report = await reports.get(ctx.tx, ref)
    if report is None:
        await ctx.say("report.not_found", ref=ref)
        return
    try:
        await change_status(ctx, report, to_status.lower(), note.strip())
    except StatusError as bad:
        await ctx.reply((await ctx.render_for(ctx.user.id, bad.key, **bad.params)).text)
        return
    await audit.record(
        ctx.tx, ctx.actor, f"report_{to_status.lower()}", report.ref, ctx.now, note.strip()
    )
    await confirm(ctx, report, to_status.lower())


async def confirm(ctx: Context, report: Report, status: str) -> None:
    """Tells the person who changed an item's status that the riders were told, or that the
    update waits for a rider on WeChat to write again (it stays in /pending until then)."""
    waits = await outbox.waiting_refs(ctx.tx, ctx.now, report.ref)
    done = await ctx.render_for(
        ctx.user.id,
        "status.done_waits" if waits else "status.done",
        ref=report.ref,
        status=Label(f"status.{status}"),
    )
    await ctx.reply(done.text)


async def _own_resolved(ctx: Context, ref: str) -> Report | None:
    """The item, if this rider reported it and it awaits their verdict; else says why not."""
    report = await reports.get(ctx.tx, ref)
    if report is None or ctx.user.id not in await reports.reporters(ctx.tx, report.id):
        await ctx.say("hint.unknown_button")
        return None
    if report.status != "resolved":
        await ctx.say("rating.too_late", ref=report.ref)
        return None
    return report


async def rate(ctx: Context, argument: str) -> None:
    ref, stars = unpack(argument, str, frozenset({"1", "2", "3", "4", "5"}))
    report = await _own_resolved(ctx, ref)
    if report is None:
        return
    await reports.rate(ctx.tx, report.id, int(stars), None)
    await reports.set_status(ctx.tx, report, "closed", ctx.user.id, f"★{stars}", ctx.now)
    await engine.begin(ctx, COMMENT, {"ref": report.ref, "stars": int(stars)})


async def reopen(ctx: Context, ref: str) -> None:
    report = await _own_resolved(ctx, ref)
    if report is None:
        return
    if report.reopened:
        await ctx.say("rating.reopen_once", ref=report.ref)
        return
    await change_status(ctx, report, "in_progress", ctx.t("rating.reopen_note"), reopening=True)
    await ctx.say("rating.reopened", ref=report.ref)
    for person in await responsible(ctx, report.branch_id):
        await ctx.push(person, "queue.reopened", ref=report.ref)


class CommentFlow(Flow):
    """The optional words after a rating (回访)."""

    name = "rating_comment"
    title_key = "rating.title"
    steps = (
        DescriptionStep(
            name="comment",
            field="comment",
            prompt_key="rating.ask_comment",
            label_key=None,
            max_len=500,
            optional=True,
            voice=False,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        report = await reports.get(ctx.tx, draft["ref"])
        comment = draft["comment"].get("text")
        if report is not None and comment:
            await reports.rate(ctx.tx, report.id, draft["stars"], comment)
        await ctx.say("rating.thanks")


COMMENT = CommentFlow()
