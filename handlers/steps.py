"""Building blocks of flows: steps that ask one thing, and what answering them leads to.

A step owns one field of the draft. The engine moves to the first later step that applies
and is still unanswered, so editing one field from the summary returns to the summary, and
changing an answer that other steps depend on asks only what is newly needed.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.events import Event, EventKind, Reply, Request
from handlers.context import Context, rows

Draft = dict[str, Any]


@dataclass(frozen=True)
class Advance:
    """The step's field is answered; go on."""


@dataclass(frozen=True)
class Invalid:
    """Bad input: a hint is sent, the step stays and nothing is stored."""

    key: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Stay:
    """The step took the input and wants more (e.g. another photo)."""


@dataclass(frozen=True)
class Goto:
    step: str


@dataclass(frozen=True)
class Finish:
    """The flow is over; whatever it had to say is said."""


Outcome = Advance | Invalid | Stay | Goto | Finish


def always(_: Draft) -> bool:
    return True


class Step(ABC):
    """One question. ``label_key`` names the answer in the summary and on the edit buttons
    (None keeps it out of both); ``when`` says whether the step applies to this draft."""

    name: str
    field: str | None
    label_key: str | None
    when: Callable[[Draft], bool]
    takes_media: ClassVar[bool] = False
    """Photos and voice notes sent at this step are processed before it sees them."""

    @abstractmethod
    async def prompt(self, ctx: Context, draft: Draft) -> Reply: ...

    @abstractmethod
    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome: ...

    def display(self, ctx: Context, value: Any) -> str:
        return str(value)


class InvalidInput(ValueError):
    """Raised by a parser: ``key`` names the hint in the catalog."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
"""Zero-width characters, direction marks and bidirectional overrides: they show nothing,
or make a name read backwards."""


_FULL_WIDTH = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]")
"""Full-width digits and letters, and the ideographic space: what a Chinese keyboard types
for ``138`` or ``A``. Full-width punctuation (，。：) is Chinese writing and is kept."""


def clean_text(raw: str, max_len: int) -> str:
    """Text as people meant it: full-width digits and letters as plain ones (NFKC, for them
    only), without control characters, invisible characters or direction overrides,
    trimmed; refuses what is then empty, and over-long text."""
    plain = _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), raw)
    text = _INVISIBLE.sub("", _CONTROL.sub("", unicodedata.normalize("NFC", plain))).strip()
    if not text:
        raise InvalidInput("hint.empty")
    if len(text) > max_len:
        raise InvalidInput("hint.too_long", max=max_len, got=len(text))
    return text


@dataclass(kw_only=True)
class TextStep(Step):
    name: str
    field: str
    prompt_key: str
    label_key: str | None
    max_len: int
    parse: Callable[[str], str] | None = None
    when: Callable[[Draft], bool] = always
    request: Request | None = None
    request_label_key: str = ""

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        return Reply(
            text=ctx.t(self.prompt_key),
            request=self.request,
            request_label=ctx.t(self.request_label_key) if self.request_label_key else "",
        )

    def value_from(self, event: Event) -> str:
        if event.kind is EventKind.TEXT:
            return event.text
        raise InvalidInput("hint.type_text")

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        try:
            value = clean_text(self.value_from(event), self.max_len)
            draft[self.field] = self.parse(value) if self.parse else value
        except InvalidInput as bad:
            return Invalid(bad.key, bad.params)
        return Advance()


@dataclass(frozen=True)
class Choice:
    value: str
    label_key: str


@dataclass(kw_only=True)
class ChoiceStep(Step):
    """Buttons first; ``free_text`` lets a rider type an answer the buttons lack."""

    name: str
    field: str
    prompt_key: str
    label_key: str | None
    choices: tuple[Choice, ...]
    per_row: int = 2
    free_text: int | None = None
    when: Callable[[Draft], bool] = always

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        buttons = [ctx.button(choice.label_key, choice.value) for choice in self.choices]
        return Reply(text=ctx.t(self.prompt_key), buttons=rows(buttons, self.per_row))

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.BUTTON:
            if not any(choice.value == event.data for choice in self.choices):
                return Invalid("hint.unknown_button")
            draft[self.field] = event.data
            return Advance()
        if event.kind is EventKind.TEXT and self.free_text:
            try:
                draft[self.field] = clean_text(event.text, self.free_text)
            except InvalidInput as bad:
                return Invalid(bad.key, bad.params)
            return Advance()
        return Invalid("hint.use_buttons")

    def display(self, ctx: Context, value: Any) -> str:
        for choice in self.choices:
            if choice.value == value:
                return ctx.t(choice.label_key)
        return str(value)


YES_NO = (Choice("yes", "button.yes"), Choice("no", "button.no"))
