"""Broadcasts: one message to many riders, and how each copy fared.

Each copy is an outbox row tagged with the broadcast; the broadcast counts its copies sent,
failed and blocked as each is done with, in the transaction that marks the copy, so the
counts survive a restart halfway through and the pruning of old outbox rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all, fetch_one
from storage.timefmt import to_db

PARTY_STATUSES = ("member", "probationary")


@dataclass(frozen=True)
class Broadcast:
    id: int
    author: str
    total: int
    progress_message: int | None
    finished: bool


async def recipients(tx: Tx, audience: str, branch_id: int | None, author: str) -> list[str]:
    """Everyone the audience covers, minus those who blocked the bot and the author."""
    if audience == "branch":
        sql = (
            "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.branch_id = ?"
        )
        params: tuple[object, ...] = (branch_id,)
    elif audience == "party":
        sql = (
            "SELECT u.id FROM users u JOIN declarations d ON d.user_id = u.id "
            "WHERE d.political_status IN (?, ?)"
        )
        params = PARTY_STATUSES
    else:
        sql, params = "SELECT u.id FROM users u WHERE 1", ()
    rows = await fetch_all(
        tx, f"{sql} AND u.unreachable_at IS NULL AND u.id != ? ORDER BY u.id", (*params, author)
    )
    return [row[0] for row in rows]


async def create(
    tx: Tx,
    author: str,
    audience: str,
    branch_id: int | None,
    text: str,
    urgent: bool,
    total: int,
    now: datetime,
) -> int:
    cursor = await tx.execute(
        "INSERT INTO broadcasts (author, audience, branch_id, text, urgent, total, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (author, audience, branch_id, text, 1 if urgent else 0, total, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def set_progress_message(tx: Tx, broadcast_id: int, message_id: int) -> None:
    await tx.execute(
        "UPDATE broadcasts SET progress_message = ? WHERE id = ?", (message_id, broadcast_id)
    )


async def of_message(tx: Tx, message_id: int) -> Broadcast | None:
    """The broadcast an outbox message is a copy of, if any."""
    row = await fetch_one(
        tx,
        "SELECT b.id, b.author, b.total, b.progress_message, b.finished_at FROM outbox o "
        "JOIN broadcasts b ON b.id = o.broadcast_id WHERE o.id = ?",
        (message_id,),
    )
    if row is None:
        return None
    return Broadcast(row[0], row[1], row[2], row[3], row[4] is not None)


OUTCOMES = ("sent", "failed", "blocked")


async def count_outcome(tx: Tx, broadcast_id: int, outcome: str) -> dict[str, int]:
    """Counts one more copy done with ``outcome``; returns the counts so far."""
    column = outcome if outcome in OUTCOMES else "failed"
    row = await fetch_one(
        tx,
        f"UPDATE broadcasts SET {column} = {column} + 1 WHERE id = ? "
        "RETURNING sent, failed, blocked",
        (broadcast_id,),
    )
    return dict(zip(OUTCOMES, row, strict=True)) if row else dict.fromkeys(OUTCOMES, 0)


async def finish(tx: Tx, broadcast_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE broadcasts SET finished_at = ? WHERE id = ?", (to_db(now), broadcast_id)
    )
