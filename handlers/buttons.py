"""Button data, typed once: an action's name and its fields, packed within Telegram's 64 bytes
and unpacked against the types the action expects.

Data that does not unpack (forged, cut, or from an older version of the bot) raises
:class:`Malformed`, which the dispatcher answers as an expired button: nothing changes, and the
person is never told that something broke.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

MENU_SCOPE = "m"
"""Data of buttons that run an action, rather than answer a step of a form."""
LIMIT = 64
"""Bytes of callback data Telegram carries."""
LARGEST = 2**63 - 1
"""SQLite's largest integer: no id of ours is bigger."""

Field = type[int] | type[str] | frozenset[str] | Callable[[str], Any]
"""``int`` (an id), ``str`` (anything not empty), a set of words, or a parser that raises
``ValueError`` on what it does not take."""


log = logging.getLogger(__name__)


class Malformed(ValueError):
    """Button data that is not what its action packs."""


def pack(action: str, *fields: str | int) -> str:
    """The data of a button that runs ``action``. Data over Telegram's limit (a very long
    WeCom user id) is logged: Telegram would refuse the message, other platforms take it."""
    data = ":".join([MENU_SCOPE, action, *(str(field) for field in fields)])
    if len(data.encode()) > LIMIT:
        log.error("button data over %d bytes, Telegram will refuse it: %r", LIMIT, data)
    return data


def unpack(argument: str, *fields: Field) -> tuple[Any, ...]:
    """The fields of an action's argument, each checked against its type; the last field
    takes the rest (a user id holds a colon)."""
    parts = argument.split(":", len(fields) - 1) if fields else []
    if len(parts) != len(fields) or (not fields and argument):
        raise Malformed(argument)
    return tuple(_field(part, kind) for part, kind in zip(parts, fields, strict=True))


def _field(part: str, kind: Field) -> Any:
    if kind is int:
        if not (part.isascii() and part.isdigit()) or int(part) > LARGEST:
            raise Malformed(part)
        return int(part)
    if kind is str:
        if not part:
            raise Malformed(part)
        return part
    if isinstance(kind, frozenset):
        if part not in kind:
            raise Malformed(part)
        return part
    try:
        return kind(part)
    except (ValueError, TypeError, OverflowError) as bad:
        raise Malformed(part) from bad
