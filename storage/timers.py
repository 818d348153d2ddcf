"""Timers: what must happen when. A timer is done in the same transaction as its effect, so
one that fired is never fired again, whatever restarts in between."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, fetch_all
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]


async def schedule(
    tx: Tx, kind: str, key: str, due_at: datetime, payload: dict[str, Any], now: datetime
) -> bool:
    """Adds a timer unless one with this key exists (a key names the one thing it is for:
    ``deadline:ack:SQ-…:1``); returns whether it was added."""
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO timers (kind, key, due_at, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (kind, key, to_db(due_at), json.dumps(payload, ensure_ascii=False), to_db(now)),
    )
    return cursor.rowcount == 1


def _timer(row: Any) -> Timer:
    return Timer(row[0], row[1], row[2], from_db(row[3]), json.loads(row[4]))


async def due(tx: Tx, now: datetime, limit: int = 200) -> list[Timer]:
    rows = await fetch_all(
        tx,
        "SELECT id, kind, key, due_at, payload FROM timers "
        "WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?",
        (to_db(now), limit),
    )
    return [_timer(row) for row in rows]


async def pending_times(tx: Tx, limit: int = 1) -> list[datetime]:
    """When the scheduler must wake: the soonest pending due times."""
    rows = await fetch_all(
        tx,
        "SELECT DISTINCT due_at FROM timers WHERE done_at IS NULL ORDER BY due_at LIMIT ?",
        (limit,),
    )
    return [from_db(row[0]) for row in rows]


async def finish(tx: Tx, timer_id: int, now: datetime, outcome: str) -> bool:
    """Marks a timer done; False when another process already did (it must do nothing)."""
    cursor = await tx.execute(
        "UPDATE timers SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
        (to_db(now), outcome, timer_id),
    )
    return cursor.rowcount == 1


async def of_key_prefix(tx: Tx, prefix: str) -> list[Timer]:
    rows = await fetch_all(
        tx,
        "SELECT id, kind, key, due_at, payload FROM timers WHERE key LIKE ? || '%' ORDER BY id",
        (prefix,),
    )
    return [_timer(row) for row in rows]


async def finish_outcome(tx: Tx, timer_id: int, outcome: str) -> None:
    await tx.execute("UPDATE timers SET outcome = ? WHERE id = ?", (outcome, timer_id))
