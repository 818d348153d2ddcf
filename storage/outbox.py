"""Messages to send, written in the same transaction as the change they announce.

A transport sends what is unsent and marks it; after a crash, whatever was committed but not
yet sent goes out on the next start, so no confirmation is lost and none is invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.events import Outgoing, Reply
from storage.db import Tx, fetch_all, fetch_one
from storage.timefmt import to_db


async def add(
    tx: Tx,
    recipient: str,
    reply: Reply,
    now: datetime,
    broadcast_id: int | None = None,
    *,
    bulk: bool = False,
) -> int:
    """Queues a message; ``bulk`` ones (and every broadcast copy) wait while answers go."""
    cursor = await tx.execute(
        "INSERT INTO outbox (recipient, payload, has_buttons, created_at, broadcast_id, bulk) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            recipient,
            reply.to_json(),
            1 if reply.buttons else 0,
            to_db(now),
            broadcast_id,
            1 if bulk or broadcast_id is not None else 0,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def unsent(
    tx: Tx, platform: str, after: int = 0, *, bulk: bool | None = None, limit: int = 500
) -> list[Outgoing]:
    """Unsent messages of a platform, oldest first, from the id ``after`` on (a transport
    that already holds some in its queues asks only for newer ones); answers only, or bulk
    only, when ``bulk`` says which."""
    kinds = (0, 1) if bulk is None else (int(bulk),)
    rows = await fetch_all(
        tx,
        "SELECT id, recipient, payload, broadcast_id, bulk FROM outbox "
        f"WHERE sent_at IS NULL AND bulk IN ({', '.join('?' * len(kinds))}) AND id > ? "
        "AND recipient LIKE ? ORDER BY id LIMIT ?",
        (*kinds, after, f"{platform}:%", limit),
    )
    return [
        Outgoing(
            row["id"],
            row["recipient"],
            Reply.from_json(row["payload"]),
            row["broadcast_id"],
            bulk=bool(row["bulk"]),
        )
        for row in rows
    ]


OUTCOMES = ("sent", "failed", "blocked", "superseded")


@dataclass(frozen=True)
class Mark:
    """A transport is done with a message: ``outcome`` says whether it reached the user,
    ``delivered_as`` is the platform's id for it."""

    message_id: int
    delivered_as: str | None = None
    outcome: str = "sent"


async def mark_sent(tx: Tx, marks: Sequence[Mark], now: datetime) -> None:
    await tx.executemany(
        "UPDATE outbox SET sent_at = ?, delivered_as = ?, outcome = ? WHERE id = ?",
        [(to_db(now), mark.delivered_as, mark.outcome, mark.message_id) for mark in marks],
    )


async def delivered_as(tx: Tx, message_id: int) -> str | None:
    """The platform's id of a sent message; None while it is unsent."""
    row = await fetch_one(tx, "SELECT delivered_as FROM outbox WHERE id = ?", (message_id,))
    return row["delivered_as"] if row else None


async def last_with_buttons(tx: Tx, recipient: str) -> Reply | None:
    """The newest message to this user that carried buttons (what a tap refers to)."""
    row = await fetch_one(
        tx,
        "SELECT payload FROM outbox WHERE recipient = ? AND has_buttons = 1 "
        "ORDER BY id DESC LIMIT 1",
        (recipient,),
    )
    return Reply.from_json(row["payload"]) if row else None


async def last_keyboard(tx: Tx, recipient: str, within: int = 50) -> Reply | None:
    """The newest message to this user that asked to share a location or a number: on
    Telegram its keyboard stays under the chat until another replaces it. Only the last
    ``within`` messages are looked at, so a secretary's stream of alerts costs nothing."""
    row = await fetch_one(
        tx,
        "SELECT payload FROM (SELECT id, payload FROM outbox WHERE recipient = ? "
        "ORDER BY id DESC LIMIT ?) WHERE json_extract(payload, '$.request') IS NOT NULL "
        "ORDER BY id DESC LIMIT 1",
        (recipient, within),
    )
    return Reply.from_json(row["payload"]) if row else None


async def to_recipient(tx: Tx, recipient: str) -> list[Outgoing]:
    """Every message ever queued for one user, oldest first."""
    rows = await fetch_all(
        tx,
        "SELECT id, recipient, payload FROM outbox WHERE recipient = ? ORDER BY id",
        (recipient,),
    )
    return [Outgoing(row["id"], row["recipient"], Reply.from_json(row["payload"])) for row in rows]
