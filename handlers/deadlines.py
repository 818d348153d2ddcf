"""Deadlines for hazards and grievances, in working days on China's official calendar.

An item must be acknowledged within ``ack_working_days`` and answered within
``answer_working_days``. The branch's secretaries are reminded ``deadline_warning`` before a
deadline; an item still waiting when it passes is marked overdue and escalated to the
organisation above, which gets a window of its own and, if that passes too, the next one up.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import CHINA
from bot.workdays import add_working_days
from handlers.context import Context
from handlers.handling import report_card
from handlers.routing import admin_ids, responsible
from storage import branches, reports
from storage.reports import Report

DEADLINE, WARNING = "deadline", "deadline_warning"
SETTLED = frozenset({"resolved", "closed", "rejected", "duplicate"})
STAGES = ("ack", "answer")


def waiting(report: Report, stage: str) -> bool:
    """Is the item still waiting for what this stage's deadline is about?"""
    if stage == "ack":
        return report.status == "submitted"
    return report.status not in SETTLED


def window(ctx: Context, stage: str) -> int:
    return ctx.settings.ack_working_days if stage == "ack" else ctx.settings.answer_working_days


async def start_clock(ctx: Context, report: Report) -> datetime:
    """Sets both deadlines of a new item and their timers; returns when the rider should hear
    back at the latest."""
    due = {
        stage: add_working_days(ctx.now, window(ctx, stage), ctx.settings.calendar)
        for stage in STAGES
    }
    await reports.set_deadlines(ctx.tx, report.id, due["ack"], due["answer"])
    for stage, due_at in due.items():
        payload: dict[str, object] = {"ref": report.ref, "stage": stage, "level": 0}
        await ctx.schedule(DEADLINE, f"{DEADLINE}:{stage}:{report.ref}:0", due_at, payload)
        warn_at = due_at - ctx.settings.deadline_warning
        if warn_at > ctx.now:
            await ctx.schedule(WARNING, f"{WARNING}:{stage}:{report.ref}", warn_at, payload)
    return due["answer"]


def day_of(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%m-%d")


async def warn(ctx: Context, payload: dict[str, object]) -> str:
    report = await reports.get(ctx.tx, str(payload["ref"]))
    if report is None or not waiting(report, str(payload["stage"])):
        return "met"
    due = report.ack_due_at if payload["stage"] == "ack" else report.answer_due_at
    for person in await responsible(ctx, report.branch_id):
        await ctx.push(
            person,
            f"deadline.soon_{payload['stage']}",
            ref=report.ref,
            when=due.astimezone(CHINA).strftime("%m-%d %H:%M") if due else "",
        )
    return "warned"


async def expire(ctx: Context, payload: dict[str, object]) -> str:
    """The deadline passed: escalate one level up, and give that level a window too."""
    stage, level = str(payload["stage"]), int(str(payload["level"]))
    report = await reports.get(ctx.tx, str(payload["ref"]))
    if report is None or not waiting(report, stage):
        return "met"
    await reports.mark_overdue(ctx.tx, report.id, level + 1)
    above = await branches.ancestors(ctx.tx, report.branch_id) if report.branch_id else []
    target = above[level] if level < len(above) else None
    people = await responsible(ctx, target.id) if target else await admin_ids(ctx)
    late = await reports.get(ctx.tx, report.ref)
    assert late is not None
    for person in people:
        await ctx.push(person, f"deadline.overdue_{stage}", ref=report.ref)
        for reply in await report_card(ctx, late, person):
            await ctx.send(person, reply)
    if target is not None and level + 1 < len(above):
        following = {"ref": report.ref, "stage": stage, "level": level + 1}
        await ctx.schedule(
            DEADLINE,
            f"{DEADLINE}:{stage}:{report.ref}:{level + 1}",
            add_working_days(ctx.now, window(ctx, stage), ctx.settings.calendar),
            following,
        )
    return "escalated"
