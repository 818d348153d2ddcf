"""Runs flows: a flow is a list of steps, its position and draft stored per user in SQLite.

Nothing about a conversation lives in memory between events, so a restart, a crash or a
second bot process picks the conversation up exactly where it was.
"""

from __future__ import annotations

import copy
import secrets
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import replace
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
CANCEL = "flow:cancel"
BACK = "flow:back"
"""Button values every step offers, besides its own: leave the form, or go one step back."""
CANCEL_WORDS = frozenset({"取消", "退出", "算了", "不填了", "cancel", "quit", "exit"})
"""Typed instead of an answer, these leave the form (no one's name or place is one of them)."""


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

    def previous(self, draft: Draft, current: str) -> Step | None:
        """The step answered last before ``current`` (before the summary: the last one)."""
        names = [step.name for step in self.steps]
        upto = names.index(current) if current in names else len(names)
        answered = [
            s
            for s in self.steps[:upto]
            if s.field is not None and s.when(draft) and s.field in draft
        ]
        return answered[-1] if answered else None


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
    await ctx.send(ctx.user.id, await prompt_of(ctx, flow, conv.step, conv.draft))


async def prompt_of(ctx: Context, flow: Flow, name: str, draft: Draft) -> Reply:
    """A step's question with the ways out under it: ⬅️ back once something was answered,
    ❌ cancel always (the summary has its own)."""
    step = flow.step(name)
    prompt = await step.prompt(ctx, draft)
    if isinstance(step, SummaryStep):
        return prompt
    exits = [ctx.button("button.cancel", CANCEL)]
    if flow.previous(draft, name) is not None:
        exits.insert(0, ctx.button("button.previous", BACK))
    return replace(prompt, buttons=(*prompt.buttons, tuple(exits)))


async def leave(ctx: Context, flow: Flow) -> None:
    await ctx.say("flow.cancelled", title=ctx.t(flow.title_key))
    ctx.conversation = None


def wants_out(event: Event) -> bool:
    """The cancel button, or one of the words people type to give up a form."""
    if event.kind is EventKind.BUTTON:
        return event.data == CANCEL
    typed = unicodedata.normalize("NFKC", event.text).strip().strip("。.!！").casefold()
    return event.kind is EventKind.TEXT and typed in CANCEL_WORDS


ANSWERED = "_answered"
"""In the draft: the person's message that answered the last step, and which step it was."""


async def feed(ctx: Context, flow: Flow, event: Event) -> None:
    """Hands one event to the current step; bad input leaves the draft as it was. Cancel
    and back are the engine's, on every step, and so are edits of earlier answers."""
    conv = _conversation(ctx)
    if event.edited:
        await take_edit(ctx, flow, event)
        return
    if wants_out(event):
        await leave(ctx, flow)
        return
    if event.kind is EventKind.BUTTON and event.data == BACK:
        earlier = flow.previous(conv.draft, conv.step)
        if earlier is not None and earlier.field is not None:
            del conv.draft[earlier.field]
            conv.step = earlier.name
        conv.updated_at = ctx.now
        await reprompt(ctx, flow)
        return
    step = flow.step(conv.step)
    before = copy.deepcopy(conv.draft)
    outcome: Outcome = await step.accept(ctx, conv.draft, event)
    conv.updated_at = ctx.now
    match outcome:
        case Advance():
            if event.message and step.field is not None:
                conv.draft[ANSWERED] = {"message": event.message, "step": step.name}
            await _advance(ctx, flow)
        case Invalid(key=key, params=params):
            conv.draft = before
            prompt = await prompt_of(ctx, flow, conv.step, conv.draft)
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


async def take_edit(ctx: Context, flow: Flow, event: Event) -> None:
    """A corrected answer to the step just completed replaces it (and the person is told);
    any other edit changes nothing, and the person is told how to change an answer."""
    conv = _conversation(ctx)
    answered = conv.draft.get(ANSWERED) or {}
    if answered.get("message") != event.message:
        await ctx.say("flow.edit_how")
        await reprompt(ctx, flow)
        return
    step = flow.step(answered["step"])
    assert step.field is not None
    trial = copy.deepcopy(conv.draft)
    trial.pop(step.field, None)
    outcome = await step.accept(ctx, trial, replace(event, edited=False))
    if not isinstance(outcome, Advance):
        await ctx.say("flow.edit_refused")
        await reprompt(ctx, flow)
        return
    conv.draft = trial
    conv.updated_at = ctx.now
    field = ctx.t(step.label_key or "flow.your_answer")
    await ctx.say("flow.edited", field=field, value=step.display(ctx, trial[step.field]))
    await _advance(ctx, flow)


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


def field_line(ctx: Context, step: Step, draft: Draft) -> str:
    """One answer as the summary shows it: its label, then the value, in the person's
    language (a full-width colon in Chinese)."""
    assert step.label_key and step.field
    label, value = ctx.t(step.label_key), step.display(ctx, draft[step.field])
    return ctx.t("flow.field_line", label=label, value=value)


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
            lines.append(field_line(ctx, step, draft))
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
            await leave(ctx, self.flow)
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
