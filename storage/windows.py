"""Send windows: platforms that let the bot write to a person only for a while after they
wrote, and only so many times (WeChat customer service: 48 hours, five messages).

A transport opens a recipient's window when their message is received and spends it as it
sends; the core asks only whether a recipient can be reached now, so it can tell a secretary
that an update will wait. A recipient without a window (Telegram, the WeCom app) is always
reachable. A welcome code is a one-time extra send a platform grants when a person opens
the chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_one
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Window:
    closes_at: datetime
    sends_left: int
    via: str
    """The account the person wrote to, which answers them."""

    def allows(self, now: datetime) -> int:
        """How many messages may go now."""
        return self.sends_left if now < self.closes_at else 0


async def open_window(tx: Tx, recipient: str, closes_at: datetime, sends: int, via: str) -> None:
    """The person wrote: ``sends`` messages may go until ``closes_at`` (an older message,
    handled late, does not shorten a window a newer one opened)."""
    await tx.execute(
        "INSERT INTO send_windows (recipient, closes_at, sends_left, via) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(recipient) DO UPDATE SET closes_at = excluded.closes_at, "
        "sends_left = excluded.sends_left, via = excluded.via "
        "WHERE excluded.closes_at >= send_windows.closes_at",
        (recipient, to_db(closes_at), sends, via),
    )


async def get(tx: Tx, recipient: str) -> Window | None:
    row = await fetch_one(
        tx,
        "SELECT closes_at, sends_left, via FROM send_windows WHERE recipient = ?",
        (recipient,),
    )
    return Window(from_db(row["closes_at"]), row["sends_left"], row["via"]) if row else None


async def spend(tx: Tx, recipient: str, sends: int) -> None:
    await tx.execute(
        "UPDATE send_windows SET sends_left = max(0, sends_left - ?) WHERE recipient = ?",
        (sends, recipient),
    )


async def reachable(tx: Tx, recipient: str, now: datetime) -> bool:
    window = await get(tx, recipient)
    return window is None or window.allows(now) > 0


async def grant_welcome(tx: Tx, recipient: str, code: str, until: datetime, via: str) -> None:
    """A person opened the chat: one message may go with this code until ``until``. A new
    window row is closed (opening the chat is not writing)."""
    await tx.execute(
        "INSERT INTO send_windows (recipient, closes_at, sends_left, via, welcome_code, "
        "welcome_until) VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT(recipient) DO UPDATE SET "
        "welcome_code = excluded.welcome_code, welcome_until = excluded.welcome_until, "
        "via = excluded.via",
        (recipient, to_db(until), via, code, to_db(until)),
    )


async def take_welcome(tx: Tx, recipient: str, now: datetime) -> str:
    """The recipient's welcome code, once, while it is valid; "" when there is none."""
    row = await fetch_one(
        tx,
        "SELECT welcome_code FROM send_windows WHERE recipient = ? AND welcome_code != '' "
        "AND welcome_until > ?",
        (recipient, to_db(now)),
    )
    if row is None:
        return ""
    await tx.execute("UPDATE send_windows SET welcome_code = '' WHERE recipient = ?", (recipient,))
    return str(row[0])
