"""Messages to send, written in the same transaction as the change they announce.

A transport sends what is unsent and marks it; after a crash, whatever was committed but not
yet sent goes out on the next start, so no confirmation is lost and none is invented.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.events import Outgoing, Reply
from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.timefmt import to_db


async def add(
    tx: Tx,
    recipient: str,
    reply: Reply,
    now: datetime,
    broadcast_id: int | None = None,
    *,
    bulk: bool = False,
    about: str | None = None,
    card_of: str | None = None,
    subject: str | None = None,
) -> int:
    """Queues a message; ``bulk`` ones (and every broadcast copy) wait while answers go;
    ``about`` names the item a status update is about, ``card_of`` the item a handler's card
    shows, ``subject`` the person whose declaration the message shows to someone else."""
    cursor = await tx.execute(
        "INSERT INTO outbox (recipient, payload, has_buttons, created_at, broadcast_id, bulk, "
        "about, card_of, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            recipient,
            reply.to_json(),
            1 if reply.buttons else 0,
            to_db(now),
            broadcast_id,
            1 if bulk or broadcast_id is not None else 0,
            about,
            card_of,
            subject,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def unsent(
    tx: Tx, platform: str, after: int = 0, *, bulk: bool | None = None, limit: int = 500
) -> list[Outgoing]:
    """Unsent messages of a platform, oldest first, from the id ``after`` on (a transport
    that already holds some in its queues asks only for newer ones); answers only, or bulk
    only, when ``bulk`` says which. Held messages wait for the recipient to write again."""
    kinds = (0, 1) if bulk is None else (int(bulk),)
    rows = await fetch_all(
        tx,
        "SELECT id, recipient, payload, broadcast_id, bulk, card_of FROM outbox "
        "WHERE sent_at IS NULL AND held = 0 "
        f"AND bulk IN ({', '.join('?' * len(kinds))}) AND id > ? "
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
            card_of=row["card_of"],
        )
        for row in rows
    ]


OUTCOMES = ("sent", "failed", "blocked", "superseded", "held", "merged")


@dataclass(frozen=True)
class Mark:
    """A transport is done with a message: ``outcome`` says whether it reached the user,
    ``delivered_as`` is the platform's id for it. A message "held" is not done: the platform
    lets it go only after the recipient writes again."""

    message_id: int
    delivered_as: str | None = None
    outcome: str = "sent"


def mark_sent_in(conn: sqlite3.Connection, marks: Sequence[Mark], now: datetime) -> None:
    """On the database thread, one statement for the batch however large: between two
    statements the thread waits for the interpreter's lock, and while the event loop is busy
    (a broadcast draining) each wait is a slice of its time."""
    done = [[m.message_id, m.delivered_as, m.outcome] for m in marks if m.outcome != "held"]
    conn.execute(
        "UPDATE outbox SET sent_at = ?, delivered_as = json_extract(m.value, '$[1]'), "
        "outcome = json_extract(m.value, '$[2]') "
        "FROM json_each(?) AS m WHERE outbox.id = json_extract(m.value, '$[0]')",
        (to_db(now), as_list(done)),
    )
    held = [mark.message_id for mark in marks if mark.outcome == "held"]
    conn.execute(
        f"UPDATE outbox SET held = 1, outcome = 'held' WHERE id {IN_LIST}", (as_list(held),)
    )


async def release(tx: Tx, recipient: str) -> int:
    """The recipient wrote again: what was held goes out, after the answer to what they just
    wrote (as bulk, which yields to answers), oldest first. Its outcome stays "held" until it
    is sent, so a broadcast does not count it twice."""
    cursor = await tx.execute(
        "UPDATE outbox SET held = 0, bulk = 1 WHERE recipient = ? AND held = 1", (recipient,)
    )
    return cursor.rowcount


async def release_where_open(tx: Tx, now: datetime) -> int:
    """What is held for recipients whose window is open again goes out (a rider wrote, and
    the process stopped before it let their messages go)."""
    cursor = await tx.execute(
        "UPDATE outbox SET held = 0, bulk = 1 WHERE held = 1 AND recipient IN "
        "(SELECT recipient FROM send_windows WHERE closes_at > ? AND sends_left > 0)",
        (to_db(now),),
    )
    return cursor.rowcount


async def waiting_for(tx: Tx, recipient: str, besides: int) -> int:
    """Messages to this recipient not yet sent (held ones included), other than ``besides``."""
    row = await fetch_one(
        tx,
        "SELECT count(*) FROM outbox WHERE recipient = ? AND sent_at IS NULL AND id != ?",
        (recipient, besides),
    )
    return int(row[0]) if row else 0


async def failed_after_all(tx: Tx, recipient: str, delivered_as: str) -> None:
    """The platform reported, later, that a message it took did not reach the recipient."""
    await tx.execute(
        "UPDATE outbox SET outcome = 'failed' WHERE recipient = ? AND delivered_as = ?",
        (recipient, delivered_as),
    )


async def waiting_refs(tx: Tx, now: datetime, ref: str | None = None) -> list[str]:
    """Items (or the one item ``ref``) with a status update that cannot reach its rider yet:
    held, or waiting for a recipient whose send window is closed (see
    :mod:`storage.windows`)."""
    rows = await fetch_all(
        tx,
        "SELECT DISTINCT o.about FROM outbox o "
        "LEFT JOIN send_windows w ON w.recipient = o.recipient "
        "WHERE o.sent_at IS NULL AND o.about IS NOT NULL AND (o.held = 1 OR "
        "(w.recipient IS NOT NULL AND (w.closes_at <= ? OR w.sends_left = 0))) "
        "AND (? IS NULL OR o.about = ?) ORDER BY o.about",
        (to_db(now), ref, ref),
    )
    return [row[0] for row in rows]


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


async def showing(tx: Tx, subject: str) -> list[tuple[int, str]]:
    """Sent messages that show this person's declaration to someone else: (id, recipient)."""
    rows = await fetch_all(
        tx,
        "SELECT id, recipient FROM outbox WHERE subject = ? AND sent_at IS NOT NULL ORDER BY id",
        (subject,),
    )
    return [(row["id"], row["recipient"]) for row in rows]


async def cards_of(tx: Tx, ref: str) -> list[Outgoing]:
    """Every handler's card of an item (the message with its buttons, not its further
    photos), oldest first; not those a flood's summary stood for: there is nothing to edit."""
    rows = await fetch_all(
        tx,
        "SELECT id, recipient, payload FROM outbox WHERE card_of = ? AND has_buttons = 1 "
        "AND coalesce(outcome, '') != 'merged' ORDER BY id",
        (ref,),
    )
    return [Outgoing(row["id"], row["recipient"], Reply.from_json(row["payload"])) for row in rows]


async def to_recipient(tx: Tx, recipient: str) -> list[Outgoing]:
    """Every message ever queued for one user, oldest first."""
    rows = await fetch_all(
        tx,
        "SELECT id, recipient, payload FROM outbox WHERE recipient = ? ORDER BY id",
        (recipient,),
    )
    return [Outgoing(row["id"], row["recipient"], Reply.from_json(row["payload"])) for row in rows]
