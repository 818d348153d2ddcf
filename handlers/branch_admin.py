"""Admins run branches from the chat: create, list, edit, appoint secretaries, QR codes."""

from __future__ import annotations

from dataclasses import replace

from bot.events import Event, EventKind
from handlers import engine
from handlers.context import Context
from handlers.engine import Flow
from handlers.organisation import (
    KINDS,
    BranchError,
    add_branch,
    appoint,
    appoint_admin,
    dismiss,
    dismiss_admin,
    edit_branch,
    existing,
    join_link,
    qr_file,
    wechat_qr_file,
)
from handlers.steps import Advance, Choice, ChoiceStep, Draft, Invalid, Outcome, TextStep
from storage import branches, kf
from storage.branches import Branch, NewBranch

KIND_CHOICES = tuple(Choice(kind, f"branch.kind.{kind}") for kind in KINDS)
NO_PARENT = "-"


def kind_labels(ctx: Context) -> dict[str, str]:
    return {kind: ctx.t(f"branch.kind.{kind}") for kind in KINDS}


async def refuse(ctx: Context, bad: BranchError) -> None:
    await ctx.reply((await ctx.render_for(ctx.user.id, bad.key, **bad.params)).text)


class ParentStep(ChoiceStep):
    """The organisation above: a code typed, or none."""

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.TEXT:
            parent = await branches.by_code(ctx.tx, event.text)
            if parent is None:
                return Invalid("branch.not_found", {"code": event.text.strip()})
            draft[self.field] = parent.code
            return Advance()
        return await super().accept(ctx, draft, event)


class NewBranchFlow(Flow):
    name = "new_branch"
    title_key = "branch.new_title"
    summary_title_key = "branch.summary"
    steps = (
        TextStep(
            name="name",
            field="name",
            prompt_key="branch.ask_name",
            label_key="branch.field.name",
            max_len=60,
        ),
        ChoiceStep(
            name="kind",
            field="kind",
            prompt_key="branch.ask_kind",
            label_key="branch.field.kind",
            choices=KIND_CHOICES,
        ),
        TextStep(
            name="district",
            field="district",
            prompt_key="branch.ask_district",
            label_key="branch.field.district",
            max_len=40,
        ),
        ParentStep(
            name="parent",
            field="parent",
            prompt_key="branch.ask_parent",
            label_key="branch.field.parent",
            choices=(Choice(NO_PARENT, "branch.no_parent"),),
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        parent = await branches.by_code(ctx.tx, draft["parent"]) if draft["parent"] else None
        new = NewBranch(
            code="",
            name=draft["name"],
            kind=draft["kind"],
            district=draft["district"],
            parent_id=parent.id if parent else None,
        )
        try:
            branch = await add_branch(ctx.tx, ctx.user.id, new, ctx.now)
        except BranchError as bad:
            await refuse(ctx, bad)
            return
        await show_join_card(ctx, ctx.user.id, branch, "branch.created")


NEW_BRANCH = NewBranchFlow()


async def show_join_card(ctx: Context, recipient: str, branch: Branch, intro_key: str) -> None:
    """The branch's code, its deep link and, when the link is known, its QR code."""
    link = join_link(ctx.settings, branch.code)
    reply = await ctx.render_for(
        recipient,
        intro_key,
        name=branch.name,
        code=branch.code,
        link=link or f"/join {branch.code}",
    )
    picture = qr_file(ctx.settings, branch)
    await ctx.send(recipient, reply if picture is None else replace(reply, photo=str(picture)))
    if contact := await kf.contact_url(ctx.tx):
        wechat = await ctx.render_for(recipient, "branch.wechat_card", name=branch.name)
        poster = wechat_qr_file(ctx.settings, contact, branch)
        await ctx.send(recipient, replace(wechat, photo=str(poster)))


async def new_branch(ctx: Context, _: str) -> None:
    await engine.begin(ctx, NEW_BRANCH)


async def list_branches(ctx: Context, _: str) -> None:
    every = await branches.all_branches(ctx.tx)
    if not every:
        await ctx.say("branch.none")
        return
    names = {b.id: b.code for b in every}
    staffing = await branches.staffing(ctx.tx)
    lines = [ctx.t("branch.list_title", count=len(every))]
    for branch in every:
        staff = staffing.get(branch.id, branches.Staffing())
        lines.append(
            ctx.t(
                "branch.list_line",
                code=branch.code,
                name=branch.name,
                kind=ctx.t(f"branch.kind.{branch.kind}"),
                district=branch.district or "—",
                parent=names.get(branch.parent_id or 0, "—"),
                secretaries=len(staff.secretaries),
                members=staff.members,
            )
        )
    await ctx.reply("\n".join(lines))


async def edit_command(ctx: Context, arguments: str) -> None:
    """``/editbranch CODE name|kind|district|parent VALUE``"""
    parts = arguments.split(maxsplit=2)
    if len(parts) < 3:
        await ctx.say("branch.edit_usage")
        return
    code, field, value = parts
    try:
        branch = await edit_branch(
            ctx.tx, ctx.user.id, code, field.lower(), value, kind_labels(ctx), ctx.now
        )
    except BranchError as bad:
        await refuse(ctx, bad)
        return
    await ctx.say("branch.edited", code=branch.code, field=field, value=value)


async def appoint_command(ctx: Context, arguments: str) -> None:
    """``/appoint CODE USER`` makes a secretary; ``/appoint admin USER`` an admin."""
    parts = arguments.split()
    if len(parts) != 2:
        await ctx.say("branch.appoint_usage")
        return
    target, user_id = parts
    try:
        if target.lower() == "admin":
            await appoint_admin(ctx.tx, ctx.user.id, user_id, ctx.now)
            await ctx.say("branch.admin_appointed", user=user_id)
            await ctx.push(user_id, "branch.you_are_admin")
            return
        branch = await appoint(ctx.tx, ctx.user.id, target, user_id, ctx.now)
    except BranchError as bad:
        await refuse(ctx, bad)
        return
    await ctx.say("branch.appointed", user=user_id, code=branch.code, name=branch.name)
    await show_join_card(ctx, user_id, branch, "branch.you_are_secretary")


async def dismiss_command(ctx: Context, arguments: str) -> None:
    """``/dismiss CODE USER`` ends a secretary's post; ``/dismiss admin USER`` an admin's."""
    parts = arguments.split()
    if len(parts) != 2:
        await ctx.say("branch.dismiss_usage")
        return
    target, user_id = parts
    try:
        if target.lower() == "admin":
            await dismiss_admin(ctx.tx, ctx.user.id, user_id, ctx.now)
            await ctx.say("branch.admin_dismissed", user=user_id)
            await ctx.push(user_id, "branch.no_longer_admin")
            return
        branch = await dismiss(ctx.tx, ctx.user.id, target, user_id, ctx.now)
    except BranchError as bad:
        await refuse(ctx, bad)
        return
    await ctx.say("branch.dismissed", user=user_id, code=branch.code)


async def qr_command(ctx: Context, code: str) -> None:
    """The join card of a branch: admins for any branch, a secretary for their own."""
    try:
        branch = await existing(ctx.tx, code)
    except BranchError as bad:
        await refuse(ctx, bad)
        return
    if not ctx.handles(branch.id):
        await ctx.say("hint.not_allowed")
        return
    await show_join_card(ctx, ctx.user.id, branch, "branch.join_card")


async def whoami(ctx: Context, _: str) -> None:
    """Tells a user the id an admin needs to appoint them."""
    await ctx.say("branch.whoami", user=ctx.user.id)
