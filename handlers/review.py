"""Secretaries verify declared members, and see what awaits them.

The census counts a member as verified only after a secretary of their branch (or an admin)
checked the declaration; a rejection carries a reason the rider reads, and the rider may
declare again.
"""

from __future__ import annotations

from bot.events import Button, Reply
from handlers import engine
from handlers.buttons import pack, unpack
from handlers.context import Context, rows
from handlers.engine import Flow
from handlers.phone import mask
from handlers.routing import responsible
from handlers.steps import Draft, TextStep
from storage import audit, branches, declarations, outbox, reports, users
from storage.declarations import Declaration
from storage.reports import OPEN_STATUSES, Report


async def branch_of(ctx: Context, user_id: str) -> int | None:
    branch = await branches.membership(ctx.tx, user_id)
    return branch.id if branch else None


async def declaration_card(ctx: Context, declaration: Declaration, recipient: str) -> Reply:
    lang = await users.lang_of(ctx.tx, recipient)
    t = ctx.catalog.t
    text = t(
        lang,
        "review.card",
        name=declaration.name,
        phone=mask(declaration.phone),
        platform=t(lang, f"platform.{declaration.platform}"),
        station=declaration.station,
        district=f"{declaration.city} {declaration.district}",
        political=t(lang, f"political.{declaration.political_status}"),
        duty=t(lang, f"duty.{declaration.duty}"),
        status=t(lang, f"review.status.{declaration.status}"),
    )
    if declaration.status != "pending":
        return Reply(text=text)
    target = declaration.user_id
    buttons = (
        (
            Button(t(lang, "review.verify"), pack("decl", "ok", target)),
            Button(t(lang, "review.reject"), pack("decl", "no", target)),
        ),
    )
    return Reply(text=text, buttons=buttons)


async def alert_declaration(ctx: Context, declaration: Declaration) -> None:
    for person in await responsible(ctx, await branch_of(ctx, declaration.user_id)):
        card = await declaration_card(ctx, declaration, person)
        await ctx.send(person, card, subject=declaration.user_id)


async def decide(ctx: Context, argument: str) -> None:
    """``decl:ok|no|show:USER`` from a declaration card."""
    verb, user_id = unpack(argument, frozenset({"ok", "no", "show"}), str)
    declaration = await declarations.get(ctx.tx, user_id)
    if declaration is None:
        ctx.alert("review.gone")
        return
    if not ctx.handles(await branch_of(ctx, user_id)):
        ctx.alert("hint.not_allowed")
        return
    if verb == "show":
        card = await declaration_card(ctx, declaration, ctx.user.id)
        await ctx.send(ctx.user.id, card, subject=declaration.user_id)
    elif declaration.status != "pending":
        ctx.alert("review.already", name=declaration.name)
    elif verb == "ok":
        await conclude(ctx, declaration, "verified", "")
    elif verb == "no":
        await engine.begin(ctx, REJECTION, {"user": user_id, "name": declaration.name})
    else:
        ctx.alert("hint.unknown_button")


async def conclude(ctx: Context, declaration: Declaration, status: str, note: str) -> None:
    if not await declarations.review(
        ctx.tx, declaration.user_id, status, ctx.user.id, note, ctx.now
    ):
        await ctx.say("review.already", name=declaration.name)
        return
    await audit.record(
        ctx.tx, ctx.actor, f"declaration_{status}", declaration.user_id, ctx.now, note
    )
    await ctx.say(f"review.done_{status}", name=declaration.name)
    await ctx.push(declaration.user_id, f"review.you_{status}", note=note)


class RejectionFlow(Flow):
    name = "declaration_rejection"
    title_key = "review.reject_title"
    steps = (
        TextStep(
            name="reason",
            field="reason",
            prompt_key="review.ask_reason",
            label_key=None,
            max_len=300,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        declaration = await declarations.get(ctx.tx, draft["user"])
        if declaration is None or not ctx.handles(await branch_of(ctx, draft["user"])):
            await ctx.say("review.gone")
            return
        await conclude(ctx, declaration, "rejected", draft["reason"])


REJECTION = RejectionFlow()


async def closed_but_undelivered(
    ctx: Context, refs: list[str], scope: frozenset[int] | None
) -> list[Report]:
    """Closed items whose last update waits to reach a rider on WeChat: they stay in the
    secretary's list until it does (open ones are listed anyway, marked)."""
    found = [await reports.get(ctx.tx, ref) for ref in refs]
    return [
        r
        for r in found
        if r is not None
        and r.status not in OPEN_STATUSES
        and (scope is None or r.branch_id in scope)
    ]


async def pending(ctx: Context, _: str) -> None:
    """``/pending``: declarations to verify and items to handle, oldest first."""
    scope = None if ctx.is_admin else ctx.secretary_of
    waiting_people = await declarations.pending(ctx.tx, scope)
    waiting_items = await reports.awaiting(ctx.tx, scope)
    waits = await outbox.waiting_refs(ctx.tx, ctx.now)
    undelivered = await closed_but_undelivered(ctx, waits, scope)
    if not waiting_people and not waiting_items and not undelivered:
        await ctx.say("review.nothing_pending")
        return
    entries = sorted(
        [
            (
                d.updated_at,
                ctx.t("review.pending_person", name=d.name),
                pack("decl", "show", d.user_id),
            )
            for d in waiting_people
        ]
        + [
            (
                r.created_at,
                ("⏰ " if r.overdue_level else "")
                + ("📭 " if r.ref in waits else "")
                + ctx.t(
                    "review.pending_item",
                    ref=r.ref,
                    category=ctx.t(f"{r.kind}.cat.{r.category}"),
                    status=ctx.t(f"status.{r.status}"),
                ),
                pack("act", "show", r.ref),
            )
            for r in waiting_items
        ]
        + [
            (
                r.updated_at,
                ctx.t(
                    "review.pending_waits",
                    ref=r.ref,
                    category=ctx.t(f"{r.kind}.cat.{r.category}"),
                    status=ctx.t(f"status.{r.status}"),
                ),
                pack("act", "show", r.ref),
            )
            for r in undelivered
        ],
        key=lambda entry: entry[0],
    )
    lines = [ctx.t("review.pending_title", count=len(entries))]
    lines += [f"{n}. {label}" for n, (_, label, _) in enumerate(entries, start=1)]
    buttons = [
        Button(f"{n}. {label}"[:60], action)
        for n, (_, label, action) in enumerate(entries[:10], start=1)
    ]
    await ctx.reply("\n".join(lines), rows(buttons, 1))
