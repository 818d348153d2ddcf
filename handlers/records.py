"""My records (我的记录): what a rider filed or joined, its status and its history."""

from __future__ import annotations

from bot.clock import CHINA
from handlers.context import Context, rows
from storage import points, reports


async def list_records(ctx: Context, _: str) -> None:
    mine = await reports.of_user(ctx.tx, ctx.user.id)
    if not mine:
        await ctx.say("records.none")
        return
    buttons = [
        ctx.menu_button(
            "records.item", "record", r.ref, ref=r.ref, status=ctx.t(f"status.{r.status}")
        )
        for r in mine
    ]
    await ctx.reply(ctx.t("records.title"), rows(buttons, 1))


async def show_record(ctx: Context, ref: str) -> None:
    report = await reports.get(ctx.tx, ref)
    if report is None or ctx.user.id not in await reports.reporters(ctx.tx, report.id):
        await ctx.say("report.not_found", ref=ref)
        return
    category = ctx.t(f"{report.kind}.cat.{report.category}")
    lines = [
        ctx.t(
            "records.head",
            kind=ctx.t(f"kind.{report.kind}"),
            ref=report.ref,
            category=category,
            status=ctx.t(f"status.{report.status}"),
        ),
    ]
    if report.description:
        lines.append(ctx.t("records.description", text=report.description))
    elif report.voice:
        lines.append(ctx.t("records.description", text=ctx.t("records.voice")))
    for entry in await reports.history(ctx.tx, report.id):
        when = entry.at.astimezone(CHINA).strftime("%m-%d %H:%M")
        note = f"（{entry.note}）" if entry.note else ""
        lines.append(f"• {when} {ctx.t(f'status.{entry.to_status}')}{note}")
    await ctx.reply("\n".join(lines))


async def show_points(ctx: Context, _: str) -> None:
    """``/points``: the balance and what earned it."""
    earned = await points.history(ctx.tx, ctx.user.id)
    if not earned:
        await ctx.say("points.none")
        return
    lines = [ctx.t("points.balance", total=sum(a.delta for a in earned))]
    for award in earned[-20:]:
        when = award.at.astimezone(CHINA).strftime("%m-%d")
        lines.append(
            ctx.t(
                "points.line",
                when=when,
                n=f"{award.delta:+d}",
                reason=ctx.t(f"points.{award.reason}"),
                ref=award.ref or "",
            )
        )
    await ctx.reply("\n".join(lines))
