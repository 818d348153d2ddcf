"""Broadcasts: one message to many riders, and how each copy fared.

Each copy is an outbox row tagged with the broadcast; the broadcast counts its copies sent,
failed and blocked as each is done with, in the transaction that marks the copy, so the
counts survive a restart halfway through and the pruning of old outbox rows.
"""

from __future__ import annotations

import json
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


def _audience(audience: str, branch_id: int | None) -> tuple[str, tuple[object, ...]]:
    """The users an audience covers, as a FROM-and-WHERE over ``users u``."""
    if audience == "branch":
        return (
            "FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.branch_id = ?",
            (branch_id,),
        )
    if audience == "party":
        return (
            "FROM users u JOIN declarations d ON d.user_id = u.id "
            "WHERE d.political_status IN (?, ?)",
            PARTY_STATUSES,
        )
    return "FROM users u WHERE 1", ()


REACHABLE = "AND u.unreachable_at IS NULL AND u.id != ?"
"""Those who blocked the bot are skipped, and so is the author."""


async def count_recipients(tx: Tx, audience: str, branch_id: int | None, author: str) -> int:
    source, params = _audience(audience, branch_id)
    row = await fetch_one(tx, f"SELECT count(*) {source} {REACHABLE}", (*params, author))
    return int(row[0]) if row else 0


async def queue_copies(
    tx: Tx,
    broadcast_id: int,
    audience: str,
    branch_id: int | None,
    author: str,
    payloads: dict[str, str],
    default_lang: str,
    now: datetime,
    *,
    after: str = "",
    limit: int = 1000,
) -> str | None:
    """Queues the next ``limit`` copies (user ids after ``after``) in one statement, each in
    its reader's language (``payloads``: language → the copy's outbox payload); returns the
    last user id queued, or None when no one is left."""
    source, params = _audience(audience, branch_id)
    rows = await fetch_all(
        tx,
        "INSERT INTO outbox (recipient, payload, has_buttons, created_at, broadcast_id, bulk) "
        "SELECT u.id, coalesce(json_extract(?, '$.' || u.lang), json_extract(?, '$.' || ?)), "
        f"0, ?, ?, 1 {source} {REACHABLE} AND u.id > ? ORDER BY u.id LIMIT ? "
        "RETURNING recipient",
        (
            json.dumps(payloads, ensure_ascii=False),
            json.dumps(payloads, ensure_ascii=False),
            default_lang,
            to_db(now),
            broadcast_id,
            *params,
            author,
            after,
            limit,
        ),
    )
    return max(row[0] for row in rows) if len(rows) == limit else None


async def waiting_copies(tx: Tx, broadcast_id: int) -> int:
    """Copies queued and not yet sent (nor held for a closed window)."""
    row = await fetch_one(
        tx,
        "SELECT count(*) FROM outbox WHERE broadcast_id = ? AND outcome IS NULL",
        (broadcast_id,),
    )
    return int(row[0]) if row else 0


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


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to, and what it says: what queuing its copies needs."""

    author: str
    audience: str
    branch_id: int | None
    text: str


async def audience_of(tx: Tx, broadcast_id: int) -> Audience | None:
    row = await fetch_one(
        tx,
        "SELECT author, audience, branch_id, text FROM broadcasts WHERE id = ?",
        (broadcast_id,),
    )
    return Audience(row[0], row[1], row[2], row[3]) if row else None


async def set_progress_message(tx: Tx, broadcast_id: int, message_id: int) -> None:
    await tx.execute(
        "UPDATE broadcasts SET progress_message = ? WHERE id = ?", (message_id, broadcast_id)
    )


async def of_message(tx: Tx, message_id: int) -> Broadcast | None:
    """The broadcast an outbox message is a copy of, if any, and if the copy is not counted
    yet: a copy held for its recipient to write again was counted as held."""
    row = await fetch_one(
        tx,
        "SELECT b.id, b.author, b.total, b.progress_message, b.finished_at FROM outbox o "
        "JOIN broadcasts b ON b.id = o.broadcast_id "
        "WHERE o.id = ? AND coalesce(o.outcome, '') != 'held'",
        (message_id,),
    )
    if row is None:
        return None
    return Broadcast(row[0], row[1], row[2], row[3], row[4] is not None)


OUTCOMES = ("sent", "failed", "blocked", "held")


async def count_outcome(tx: Tx, broadcast_id: int, outcome: str) -> dict[str, int]:
    """Counts one more copy done with ``outcome``; returns the counts so far."""
    column = outcome if outcome in OUTCOMES else "failed"
    row = await fetch_one(
        tx,
        f"UPDATE broadcasts SET {column} = {column} + 1 WHERE id = ? "
        "RETURNING sent, failed, blocked, held",
        (broadcast_id,),
    )
    return dict(zip(OUTCOMES, row, strict=True)) if row else dict.fromkeys(OUTCOMES, 0)


async def finish(tx: Tx, broadcast_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE broadcasts SET finished_at = ? WHERE id = ?", (to_db(now), broadcast_id)
    )
