"""Runs flows: a flow is a list of steps, its position and draft stored per user in SQLite.

Nothing about a conversation lives in memory between events, so a restart, a crash or a
second bot process picks the conversation up exactly where it was.
"""

from __future__ import annotations

import copy
import secrets
from abc import ABC, abstractmethod
from typing import Any

from bot.events import Event, EventKind, Reply
from handlers.context import Context, rows
from handlers.steps import (
    Advance,
    Draft,
    Finish,
    Goto,
    Invalid,
    Outcome,
    Stay,
    Step,
    always,
)
from storage.conversations import Conversation

SUMMARY = "summary"


class Flow(ABC):
    name: str
    title_key: str
    steps: tuple[Step, ...]
    summary_title_key: str | None = None
    """With a title, the flow ends on a summary to confirm, edit any field, or cancel."""

    @abstractmethod
    async def complete(self, ctx: Context, draft: Draft) -> None:
        """Stores what the draft describes and tells the user; runs inside the transaction."""

    def step(self, name: str) -> Step:
        if name == SUMMARY and self.summary_title_key:
            return SummaryStep(self)
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"{self.name} has no step {name!r}")

    def next_step(self, draft: Draft) -> str | None:
        """The first step that applies and is unanswered; then the summary, if any."""
        for step in self.steps:
            if step.when(draft) and (step.field is None or step.field not in draft):
                return step.name
        return SUMMARY if self.summary_title_key else None

    def answered(self, draft: Draft) -> list[Step]:
        return [s for s in self.steps if s.label_key and s.when(draft) and s.field in draft]


async def begin(ctx: Context, flow: Flow, draft: dict[str, Any] | None = None) -> None:
    ctx.conversation = Conversation(
        user_id=ctx.user.id,
        flow=flow.name,
        step="",
        token=secrets.token_hex(3),
        started_at=ctx.now,
        updated_at=ctx.now,
        draft=dict(draft or {}),
    )
    await _advance(ctx, flow)


async def reprompt(ctx: Context, flow: Flow) -> None:
    conv = _conversation(ctx)
    await ctx.send(ctx.user.id, await flow.step(conv.step).prompt(ctx, conv.draft))


async def feed(ctx: Context, flow: Flow, event: Event) -> None:
    """Hands one event to the current step; bad input leaves the draft as it was."""
    conv = _conversation(ctx)
    step = flow.step(conv.step)
    before = copy.deepcopy(conv.draft)
    outcome: Outcome = await step.accept(ctx, conv.draft, event)
    conv.updated_at = ctx.now
    match outcome:
        case Advance():
            await _advance(ctx, flow)
        case Invalid(key=key, params=params):
            conv.draft = before
            prompt = await step.prompt(ctx, conv.draft)
            await ctx.send(
                ctx.user.id,
                Reply(
                    text=ctx.t(key, **params),
                    buttons=prompt.buttons,
                    request=prompt.request,
                    request_label=prompt.request_label,
                ),
            )
        case Goto(step=target):
            conv.step = target
            await reprompt(ctx, flow)
        case Finish():
            ctx.conversation = None
        case Stay():
            pass


async def _advance(ctx: Context, flow: Flow) -> None:
    conv = _conversation(ctx)
    following = flow.next_step(conv.draft)
    if following is None:
        await flow.complete(ctx, conv.draft)
        ctx.conversation = None
        return
    conv.step = following
    await reprompt(ctx, flow)


def _conversation(ctx: Context) -> Conversation:
    if ctx.conversation is None:
        raise RuntimeError("no conversation in progress")
    return ctx.conversation


class SummaryStep(Step):
    """Shows every answer with confirm / edit / cancel; edit offers one button per field."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.name = SUMMARY
        self.field = None
        self.label_key = None
        self.when = always

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        assert self.flow.summary_title_key
        lines = [ctx.t(self.flow.summary_title_key)]
        for step in self.flow.answered(draft):
            assert step.label_key and step.field
            lines.append(f"{ctx.t(step.label_key)}：{step.display(ctx, draft[step.field])}")
        buttons = (
            (ctx.button("button.confirm", "confirm"),),
            (ctx.button("button.edit", "edit"), ctx.button("button.cancel", "cancel")),
        )
        return Reply(text="\n".join(lines), buttons=buttons)

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is not EventKind.BUTTON:
            return Invalid("hint.use_buttons")
        if event.data == "confirm":
            await self.flow.complete(ctx, draft)
            return Finish()
        if event.data == "cancel":
            await ctx.say("flow.cancelled", title=ctx.t(self.flow.title_key))
            return Finish()
        if event.data == "back":
            return Goto(SUMMARY)
        if event.data == "edit":
            choices = [
                ctx.button(step.label_key, f"edit:{step.name}")
                for step in self.flow.answered(draft)
                if step.label_key
            ]
            choices.append(ctx.button("button.back", "back"))
            await ctx.reply(ctx.t("flow.pick_field"), rows(choices, 2))
            return Stay()
        field_step = self._editable(draft, event.data)
        if field_step is None:
            return Invalid("hint.unknown_button")
        assert field_step.field
        del draft[field_step.field]
        return Goto(field_step.name)

    def _editable(self, draft: Draft, data: str) -> Step | None:
        name = data.removeprefix("edit:")
        if name == data:
            return None
        return next((s for s in self.flow.answered(draft) if s.name == name), None)
