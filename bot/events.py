"""The platform-neutral vocabulary between transports and flows.

Transports turn a platform update into an :class:`Event` and render an :class:`Outgoing`
back; nothing else crosses the boundary, so a flow written once runs on every platform.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class EventKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    PHOTO = "photo"
    LOCATION = "location"
    CONTACT = "contact"
    VOICE = "voice"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Event:
    """Something a user did; ``user`` is platform-qualified: ``telegram:42``, ``console:rider``."""

    user: str
    kind: EventKind
    text: str = ""
    command: str = ""
    data: str = ""
    file: Path | None = None
    file_size: int | None = None
    """The size the platform announced; a file too big is refused without downloading it."""
    download_failed: bool = False
    """The platform did not hand the file over in time: the user is asked to send it again."""
    latitude: float | None = None
    longitude: float | None = None
    phone: str = ""
    update_key: str | None = None
    """Identifies a platform delivery, so a redelivered update is recognised and ignored."""
    message: str = ""
    """The platform's id of the person's message, where it has one (an edit names it)."""
    edited: bool = False
    """The person changed a message they had sent: ``text`` is its new wording."""
    album: str = ""
    """Photos sent together (one album) share this; ``album_more`` of them follow this one."""
    album_more: int = 0


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class Venue:
    latitude: float
    longitude: float
    title: str
    address: str


class Request(StrEnum):
    """Asks the app for something only it can give with one tap."""

    LOCATION = "location"
    CONTACT = "contact"


@dataclass(frozen=True)
class Reply:
    text: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: str | None = None
    document: str | None = None
    voice: str | None = None
    """A voice note a rider recorded, played where the platform can, a file elsewhere."""
    venue: Venue | None = None
    request: Request | None = None
    request_label: str = ""
    edit_of: int | None = None
    """The outbox id of an earlier message this one replaces in place (a progress count);
    a platform that cannot edit, or a message not yet delivered, gets it as a new message."""
    refresh_menu: bool = False
    """The user's role changed: a platform with a command menu per user sets theirs anew
    when this is delivered. Queued with the change, so an appointment made on the command
    line, or just before a crash, still reaches the menu."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Reply:
        """Read once per text: a broadcast's copies share theirs, and a reply is immutable."""
        return _reply_from(raw)

    @property
    def shows_nothing(self) -> bool:
        """Nothing for the user to see (a menu refresh alone): no chat message is sent."""
        return not (
            self.text
            or self.buttons
            or self.photo
            or self.document
            or self.voice
            or self.venue
            or self.request
        )

    def flat_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


@dataclass(frozen=True)
class Handled:
    """What became of one event."""

    fresh: bool
    """False for a redelivered update: nothing was done."""
    notice: str = ""
    """A short remark about the event itself (a stale button, a button of another role),
    shown as a pop-up where the platform has one rather than as a message in the chat."""
    wake_at: tuple[datetime, ...] = ()
    """When timers this event scheduled fall due."""


@dataclass(frozen=True)
class Outgoing:
    """A reply addressed to a user, stored in the outbox before any transport sends it."""

    id: int
    recipient: str
    reply: Reply = field(default_factory=Reply)
    broadcast_id: int | None = None
    """Set on each copy of a broadcast, whose progress moves as copies are delivered."""
    bulk: bool = False
    """Sent with what capacity answers leave (broadcast copies, what timers send)."""
    card_of: str | None = None
    """The item this handler's card shows: many waiting for one person become a summary."""

    @property
    def platform(self) -> str:
        return self.recipient.split(":", 1)[0]

    @property
    def address(self) -> str:
        return self.recipient.split(":", 1)[1]


@functools.lru_cache(maxsize=256)
def _reply_from(raw: str) -> Reply:
    data: dict[str, Any] = json.loads(raw)
    buttons = tuple(tuple(Button(**b) for b in row) for row in data.pop("buttons"))
    venue = Venue(**data.pop("venue")) if data.get("venue") else None
    data.pop("venue", None)
    request = Request(data.pop("request")) if data.get("request") else None
    data.pop("request", None)
    return Reply(buttons=buttons, venue=venue, request=request, **data)
