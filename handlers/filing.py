"""Filing a report or grievance, and joining an open one instead ("me too", 我也遇到)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.clock import CHINA
from bot.events import Event, EventKind, Reply
from bot.photos import photo_path
from handlers import deadlines
from handlers.context import Context, rows
from handlers.handling import alert
from handlers.steps import Advance, Draft, Finish, Goto, Invalid, Outcome, Step
from storage import branches, reports
from storage.reports import NewReport, Report

PREFIXES = {"hazard": "YH", "grievance": "SQ"}


async def home_branch(ctx: Context) -> int | None:
    """Where the rider's items go: the branch they joined; None is the admins' queue."""
    branch = await branches.membership(ctx.tx, ctx.user.id)
    return branch.id if branch else None


async def candidates_from(
    ctx: Context, found: Sequence[tuple[Report, float | None]]
) -> list[dict[str, Any]]:
    """What the join step offers, kept in the draft so every process shows the same: enough
    of each item (how it starts, how far, its first photo) to tell whether it is the same."""
    counts = await reports.reporter_counts(ctx.tx, [r.id for r, _ in found])
    offered = []
    for report, distance in found[:3]:
        shas = await reports.photos(ctx.tx, report.id)
        offered.append(
            {
                "ref": report.ref,
                "reporters": counts.get(report.id, 1),
                "distance_m": distance,
                "about": opening(report),
                "photo": shas[0] if shas else None,
            }
        )
    return offered


ABOUT_CHARS = 24


def opening(report: Report) -> str:
    """How the item's description starts ("" for none; the voice-note mark for a voice)."""
    text = " ".join((report.description or "").split())
    if not text:
        return "🎤" if report.voice else ""
    return text if len(text) <= ABOUT_CHARS else text[: ABOUT_CHARS - 1] + "…"


class JoinStep(Step):
    """Offers the open items like this one; joining adds the rider's photos and name to it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = "join"
        self.field = "join"
        self.label_key = None
        self.when = lambda draft: bool(draft.get("candidates"))

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        """🆕 first, where the thumb finds it however long the list; then each item with how
        its description starts and how far it is, and the first photo among them."""
        lines = [ctx.t(f"join.{self.kind}.intro")]
        buttons = [ctx.button("button.new_one", "new")]
        for found in draft["candidates"]:
            key = "join.line" if found["distance_m"] is None else "join.line_near"
            lines.append(
                ctx.t(
                    key,
                    ref=found["ref"],
                    count=found["reporters"],
                    metres=round(found["distance_m"] or 0),
                    about=ctx.t("join.about", text=found["about"]) if found.get("about") else "",
                )
            )
            buttons.append(ctx.button("button.me_too", found["ref"], ref=found["ref"]))
        shas = [found["photo"] for found in draft["candidates"] if found.get("photo")]
        photo = str(photo_path(ctx.settings.media_dir, shas[0])) if shas else None
        return Reply(text="\n".join(lines), buttons=rows(buttons, 1), photo=photo)

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is not EventKind.BUTTON:
            return Invalid("hint.use_buttons")
        if event.data == "new":
            draft["join"] = "new"
            return Advance()
        if not any(found["ref"] == event.data for found in draft["candidates"]):
            return Invalid("hint.unknown_button")
        report = await reports.get(ctx.tx, event.data)
        if report is None or report.status not in reports.OPEN_STATUSES:
            draft["candidates"] = [c for c in draft["candidates"] if c["ref"] != event.data]
            await ctx.say("join.gone", ref=event.data)
            if draft["candidates"]:
                return Goto(self.name)
            draft["join"] = "new"
            return Advance()
        added = await reports.add_reporter(ctx.tx, report.id, ctx.user.id, ctx.now)
        await reports.add_photos(ctx.tx, report.id, draft.get("photos", []), ctx.user.id, ctx.now)
        await ctx.show_menu("join.done" if added else "join.already", ref=report.ref)
        return Finish()


def location_fields(draft: Draft) -> dict[str, Any]:
    place = draft.get("location") or {}
    return {
        "latitude": place.get("lat"),
        "longitude": place.get("lon"),
        "address": place.get("address"),
        "location_source": place.get("source"),
    }


async def file_report(ctx: Context, kind: str, draft: Draft) -> Report:
    """Creates the item with its reference number; the confirmation goes to the outbox in
    the same transaction, so it is sent only if the item really exists."""
    day = ctx.now.astimezone(CHINA).strftime("%Y%m%d")
    ref = await reports.next_ref(ctx.tx, PREFIXES[kind], day)
    description = draft.get("description") or {}
    new = NewReport(
        kind=kind,
        category=draft["category"],
        subcategory=draft.get("topic"),
        description=description.get("text", ""),
        voice=description.get("voice"),
        anonymous=draft.get("anonymous") == "anonymous",
        reporter=ctx.user.id,
        branch_id=await home_branch(ctx),
        **location_fields(draft),
    )
    report = await reports.create(ctx.tx, new, ref, draft.get("photos", []), ctx.now)
    answer_by = await deadlines.start_clock(ctx, report)
    await ctx.show_menu(f"{kind}.filed", ref=report.ref, by=deadlines.day_of(answer_by))
    if not await alert(ctx, report, report.branch_id):
        await ctx.say("report.nobody_yet", ref=report.ref)
    return report
