"""What a handler sees while it handles one event: the transaction, the user, the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.events import Button, Reply, Request
from bot.i18n import DEFAULT_LANG, Catalog
from bot.media import Media
from handlers.buttons import MENU_SCOPE, pack
from storage import outbox, owed, timers, users
from storage.conversations import Conversation
from storage.db import Database, Tx
from storage.owed import Owed
from storage.users import User

"""Button data ``m:<action>`` starts an action and is valid at any time."""


@dataclass(frozen=True)
class Label:
    """A catalog key passed as a parameter, translated in the recipient's language."""

    key: str


@dataclass(frozen=True)
class Afterwards:
    """What work left for after the event's transaction (a statistic, an export) has: it
    reads a snapshot and answers in a short transaction of its own, so neither the event loop
    nor anyone else's answer waits for it."""

    db: Database
    settings: Settings
    catalog: Catalog
    user: User
    now: datetime
    owed_id: int

    def t(self, key: str, /, **params: object) -> str:
        return self.catalog.t(self.user.lang, key, **params)

    async def answer(self, reply: Reply) -> None:
        """Queues the answer and, in the same transaction, settles the work it answers."""
        async with self.db.transaction() as tx:
            await outbox.add(tx, self.user.id, reply, self.now)
            await owed.settle(tx, self.owed_id)


Job = Callable[[Afterwards, dict[str, Any]], Awaitable[None]]
"""Work of one kind, given what the event wrote down for it (plain JSON values)."""


@dataclass
class Context:
    tx: Tx
    user: User
    now: datetime
    settings: Settings
    catalog: Catalog
    conversation: Conversation | None = None
    menu_items: tuple[tuple[str, str], ...] = ()
    commands: tuple[str, ...] = ()
    """The commands this person's role offers (their /help lists them)."""
    media: Media | None = None
    """The photo or voice note of this event, already checked and stored."""
    show_step_again: bool = False
    """Set by an action run mid-flow (help, language) so the rider sees where they were."""
    sent: list[int] = field(default_factory=list)
    notice: str = ""
    """A remark about the event itself, for the transport to show as a pop-up."""
    is_admin: bool = False
    secretary_of: frozenset[int] = frozenset()
    """The branches this user runs."""
    wake_at: list[datetime] = field(default_factory=list)
    """When timers added by this event fall due, so the scheduler can wake then."""
    bulk: bool = False
    """What this context sends answers nobody's own action (a timer's work): it goes with the
    capacity that answers leave."""
    owed: list[Owed] = field(default_factory=list)
    """Work to do once this event's transaction has committed (see :class:`Afterwards`)."""
    forgot: bool = False
    """Personal data was deleted: once this commits, the database's write-ahead log is
    emptied, so no earlier copy of it stays on disk."""
    via: str = ""
    """Where the person acts from when not in a chat (``web``): the audit log says so, and what
    would be said to them in the chat is shown where they are instead (:attr:`shown`)."""
    shown: list[str] = field(default_factory=list)

    @property
    def actor(self) -> str:
        """Who the audit log names: the user, or ``web:<user>`` from the web console."""
        return f"{self.via}:{self.user.id}" if self.via else self.user.id

    async def leave_for_after(self, kind: str, **payload: Any) -> None:
        """Work of ``kind`` (see :mod:`handlers.afterwards`) to do once this event has
        committed; written down with the event, so a crash before it is answered leaves it
        owed, to be done when the bot starts again."""
        self.owed.append(await owed.add(self.tx, self.user.id, kind, payload, self.now))

    def handles(self, branch_id: int | None) -> bool:
        """May this user act on an item of that branch (None: the unrouted queue)?"""
        return self.is_admin or (branch_id is not None and branch_id in self.secretary_of)

    @property
    def lang(self) -> str:
        return self.user.lang

    def t(self, key: str, /, **params: object) -> str:
        return self.catalog.t(self.lang, key, **params)

    def button(self, label_key: str, value: str, **params: object) -> Button:
        """A button of the current conversation: its data carries the conversation's token,
        so a button left over from an earlier conversation is recognised as stale."""
        token = self.conversation.token if self.conversation else MENU_SCOPE
        return Button(self.t(label_key, **params), f"{token}:{value}")

    def menu_button(
        self, label_key: str, action: str, *fields: str | int, **params: object
    ) -> Button:
        """A button that runs ``action`` with ``fields`` (see :mod:`handlers.buttons`)."""
        return Button(self.t(label_key, **params), pack(action, *fields))

    async def reply(
        self,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        *,
        photo: str | None = None,
        document: str | None = None,
        request: Request | None = None,
        request_label: str = "",
    ) -> None:
        await self.send(
            self.user.id,
            Reply(
                text=text,
                buttons=buttons,
                photo=photo,
                document=document,
                request=request,
                request_label=request_label,
            ),
        )

    def menu(self) -> tuple[tuple[Button, ...], ...]:
        return rows([self.menu_button(label, action) for label, action in self.menu_items], 2)

    async def show_menu(self, intro_key: str = "menu.title", /, **params: object) -> None:
        """The main menu under ``intro_key``'s text: an outcome and what to do next travel
        in one message."""
        await self.reply(self.t(intro_key, **params), self.menu())

    async def schedule(
        self, kind: str, key: str, due_at: datetime, payload: dict[str, object]
    ) -> None:
        if await timers.schedule(self.tx, kind, key, due_at, payload, self.now):
            self.wake_at.append(due_at)

    def alert(self, key: str, /, **params: object) -> None:
        self.notice = self.t(key, **params)

    async def say(self, key: str, /, **params: object) -> None:
        await self.reply(self.t(key, **params))

    async def send(
        self,
        recipient: str,
        reply: Reply,
        *,
        about: str | None = None,
        card_of: str | None = None,
        subject: str | None = None,
    ) -> None:
        """Queues a message; ``about`` names the item a status update concerns, so that one
        waiting to reach its rider shows on the item; ``card_of`` the item a handler's card
        shows, so that it can be brought up to date; ``subject`` the person whose declaration
        it shows, so that withdrawing it takes the message's words back too."""
        if self.via and recipient == self.user.id and reply.edit_of is None:
            self.shown.append(reply.text)
            return
        added = await outbox.add(
            self.tx,
            recipient,
            reply,
            self.now,
            bulk=self.bulk,
            about=about,
            card_of=card_of,
            subject=subject,
        )
        self.sent.append(added)

    async def push(self, recipient: str, key: str, /, **params: object) -> None:
        """A message to someone else, in their own language."""
        await self.send(recipient, await self.render_for(recipient, key, **params))

    async def render_for(self, recipient: str, key: str, /, **params: object) -> Reply:
        lang = (await users.langs_of(self.tx, [recipient])).get(recipient, DEFAULT_LANG)
        translated = {
            name: self.catalog.t(lang, value.key) if isinstance(value, Label) else value
            for name, value in params.items()
        }
        return Reply(text=self.catalog.t(lang, key, **translated))


def rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    """Lays buttons out in rows: two or three a row are easy to hit with a thumb."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
