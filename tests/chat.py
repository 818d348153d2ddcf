"""A chat with the bot through the console transport's own line handling.

Reads like a conversation: ``assert "姓名" in (await rider.say("!tap 1")).text``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.app import App
from bot.events import Event, EventKind, Outgoing, Reply
from bot.transports.console import Console


@dataclass
class Said:
    """What the bot sent in answer to one line."""

    messages: list[Outgoing]

    @property
    def text(self) -> str:
        return "\n".join(m.reply.text for m in self.messages)

    @property
    def last(self) -> Reply:
        return self.messages[-1].reply

    def to(self, user: str) -> list[Reply]:
        return [m.reply for m in self.messages if m.address == user]

    def labels(self) -> list[str]:
        return [b.label for m in self.messages for b in m.reply.flat_buttons()]


class Chat:
    def __init__(self, app: App, user: str) -> None:
        self.console = Console(app, user)
        self.user = user

    async def say(self, line: str) -> Said:
        self.console.user = self.user
        return Said(await self.console.feed(line))

    async def tap(self, label: str) -> Said:
        """Taps the button of the last message with buttons whose label contains ``label``."""
        last = await self.console.app.last_buttons(f"console:{self.user}")
        assert last is not None, "no message with buttons yet"
        labels = [b.label for b in last.flat_buttons()]
        matches = [n for n, text in enumerate(labels, 1) if label in text]
        assert matches, f"no button like {label!r} in {labels}"
        return await self.say(f"!tap {matches[0]}")

    async def script(self, *lines: str) -> Said:
        messages: list[Outgoing] = []
        for line in lines:
            if line.startswith("tap:"):
                messages += (await self.tap(line[4:])).messages
            else:
                messages += (await self.say(line)).messages
        return Said(messages)


async def press(app: App, data: str, user: str = "console:rider") -> str:
    """Delivers button data as a platform would, whether or not such a button was shown,
    and returns the text then sent to that user."""
    handled = await app.handle(Event(user, EventKind.BUTTON, data=data))
    sent = await app.unsent("console")
    for message in sent:
        await app.mark_sent(message.id)
    texts = [m.reply.text for m in sent if m.recipient == user]
    return "\n".join([handled.notice, *texts] if handled.notice else texts)
