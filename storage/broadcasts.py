"""Broadcasts: one message to many riders, and how each copy fared.

Each copy is an outbox row tagged with the broadcast; the broadcast counts its copies sent,
failed and blocked as each is done with, in the transaction that marks the copy, so the
counts survive a restart halfway through and the pruning of old outbox rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage import outbox
from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
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
    after: str,
    limit: int,
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


OUTCOMES = ("sent", "failed", "blocked", "held")


@dataclass(frozen=True)
class Tally:
    """A running broadcast's counts once a batch of its copies was counted."""

    broadcast: Broadcast
    before: int
    """Copies done with before the batch."""
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return sum(self.counts.values())


def settling(
    marks: Sequence[outbox.Mark], now: datetime
) -> Callable[[sqlite3.Connection], list[Tally]]:
    """Counts the broadcast copies among ``marks``, then marks every message done with: the
    opening of a transaction (:meth:`storage.db.Database.transaction_from`), in the trip
    of its BEGIN, since a broadcast's copies are marked by the thousand a second."""

    def settle(conn: sqlite3.Connection) -> list[Tally]:
        tallies = _count_copies_in(conn, marks)
        outbox.mark_sent_in(conn, marks, now)
        return tallies

    return settle


def _count_copies_in(conn: sqlite3.Connection, marks: Sequence[outbox.Mark]) -> list[Tally]:
    """Counts each copy not counted yet (a copy held for its recipient to write again was
    counted as held) for its broadcast, unless that broadcast has finished."""
    copies = dict(
        conn.execute(
            f"SELECT id, broadcast_id FROM outbox WHERE id {IN_LIST} "
            "AND broadcast_id IS NOT NULL AND coalesce(outcome, '') != 'held'",
            (as_list(mark.message_id for mark in marks),),
        ).fetchall()
    )
    added: dict[int, Counter[str]] = {}
    for mark in marks:
        if mark.message_id in copies:
            column = mark.outcome if mark.outcome in OUTCOMES else "failed"
            added.setdefault(copies[mark.message_id], Counter())[column] += 1
    tallies = []
    for broadcast_id, more in added.items():
        row = conn.execute(
            "UPDATE broadcasts SET sent = sent + ?, failed = failed + ?, blocked = blocked + ?, "
            "held = held + ? WHERE id = ? AND finished_at IS NULL "
            "RETURNING id, author, total, progress_message, sent, failed, blocked, held",
            (*(more[column] for column in OUTCOMES), broadcast_id),
        ).fetchone()
        if row is not None:
            counts = dict(zip(OUTCOMES, row[4:], strict=True))
            running = Broadcast(row[0], row[1], row[2], row[3], finished=False)
            tallies.append(Tally(running, sum(counts.values()) - more.total(), counts))
    return tallies


async def finish(tx: Tx, broadcast_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE broadcasts SET finished_at = ? WHERE id = ?", (to_db(now), broadcast_id)
    )
