"""Riders join a branch: by code, by the QR code's deep link, or from the branches offered
to a declared party member."""

from __future__ import annotations

from handlers.context import Context, rows
from handlers.review import alert_declaration
from storage import branches, declarations
from storage.declarations import Declaration

LEVELS_ABOVE = frozenset({"committee", "district"})
"""Organisations riders do not join directly."""


async def join(ctx: Context, code: str) -> None:
    """``/join CODE``, ``/start join-CODE`` and the offered buttons all land here."""
    if not code.strip():
        await ctx.say("member.usage")
        return
    branch = await branches.by_code(ctx.tx, code)
    if branch is None or branch.kind in LEVELS_ABOVE:
        await ctx.say("member.no_such_branch", code=code.strip())
        return
    current = await branches.membership(ctx.tx, ctx.user.id)
    if current is not None and current.id == branch.id:
        await ctx.show_menu("member.already", name=branch.name)
        return
    await branches.join(ctx.tx, ctx.user.id, branch.id, ctx.now)
    await ctx.show_menu("member.joined", name=branch.name)
    for secretary in await branches.secretaries(ctx.tx, branch.id):
        await ctx.push(secretary, "member.new", branch=branch.name)
    declaration = await declarations.get(ctx.tx, ctx.user.id)
    if declaration is not None and declaration.status == "pending":
        await alert_declaration(ctx, declaration)


async def offer_branches(ctx: Context, declaration: Declaration) -> None:
    """A party member who wants a branch and has none is offered those of their station and
    district, one tap each."""
    if not declaration.wants_branch or await branches.membership(ctx.tx, ctx.user.id):
        return
    nearby = [
        b
        for b in await branches.in_district(ctx.tx, declaration.district, declaration.station)
        if b.kind not in LEVELS_ABOVE
    ]
    if not nearby:
        await ctx.say("member.none_nearby")
        return
    buttons = [ctx.menu_button("member.join_button", "join", b.code, name=b.name) for b in nearby]
    await ctx.reply(ctx.t("member.offer"), rows(buttons, 1))
