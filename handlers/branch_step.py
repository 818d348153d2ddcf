"""A step that picks one of the branches the user may act for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.events import Event, EventKind, Reply
from handlers.context import Context, rows
from handlers.steps import Advance, Draft, Invalid, Outcome, Step, always
from storage import branches


@dataclass(kw_only=True)
class BranchStep(Step):
    """Buttons for the branches this user runs (every branch for an admin); stores the code."""

    label_key: str
    prompt_key: str
    name: str = "branch"
    field: str = "branch"
    when: Callable[[Draft], bool] = always

    async def allowed(self, ctx: Context) -> list[branches.Branch]:
        every = await branches.all_branches(ctx.tx)
        return [b for b in every if ctx.is_admin or b.id in ctx.secretary_of]

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        choices = [
            ctx.button("broadcast.branch_button", b.code, name=b.name)
            for b in await self.allowed(ctx)
        ]
        return Reply(text=ctx.t(self.prompt_key), buttons=rows(choices, 1))

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is not EventKind.BUTTON:
            return Invalid("hint.use_buttons")
        if not any(b.code == event.data for b in await self.allowed(ctx)):
            return Invalid("hint.unknown_button")
        draft[self.field] = event.data
        return Advance()

    def display(self, ctx: Context, value: object) -> str:
        return str(value)
