"""What platforms delivered: held from receipt until handled, then remembered as handled.

A transport stores an update here before it tells the platform "received" (a confirmed
``getUpdates`` offset, a webhook's 200, WeCom's "success"), so a crash between the two loses
nothing; the record of what was handled makes handling exactly once, so a platform delivering
again changes nothing. Rows are read by id per platform and worked through one chat at a
time: several workers sharing a database server would claim rows the same way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, fetch_all, fetch_one, on_thread
from storage.timefmt import to_db


@dataclass(frozen=True)
class Received:
    """One platform delivery: ``key`` names it (``telegram:<update_id>``), ``chat`` is whose
    order it keeps, ``payload`` is the platform's own data, to be translated when handled."""

    key: str
    platform: str
    chat: str
    payload: dict[str, Any]
    id: int = 0
    following: int = 0
    """Deliveries of the same group (a Telegram album) queued right behind this one."""


async def store(tx: Tx, deliveries: Sequence[Received], now: datetime) -> None:
    """Keeps what is new: a delivery already waiting, or already handled, is not kept again."""
    await tx.executemany(
        "INSERT INTO inbox (key, platform, chat, payload, received_at) "
        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM processed_updates WHERE key = ?) "
        "ON CONFLICT(key) DO NOTHING",
        [
            (
                item.key,
                item.platform,
                item.chat,
                json.dumps(item.payload, ensure_ascii=False),
                to_db(now),
                item.key,
            )
            for item in deliveries
        ],
    )


async def waiting(tx: Tx, platform: str, after: int = 0, limit: int = 500) -> list[Received]:
    """Deliveries not yet handled, oldest first, from the id ``after`` on."""
    rows = await fetch_all(
        tx,
        "SELECT id, key, platform, chat, payload FROM inbox "
        "WHERE platform = ? AND id > ? ORDER BY id LIMIT ?",
        (platform, after, limit),
    )
    return [
        Received(row["key"], row["platform"], row["chat"], json.loads(row["payload"]), row["id"])
        for row in rows
    ]


def claim_in(conn: sqlite3.Connection, key: str, now: datetime) -> bool:
    """Records the delivery as handled (in the transaction that handles it) and lets go of its
    inbox row; False when it was handled before (a redelivery). On the database thread."""
    conn.execute("DELETE FROM inbox WHERE key = ?", (key,))
    cursor = conn.execute(
        "INSERT INTO processed_updates (key, processed_at) VALUES (?, ?) "
        "ON CONFLICT(key) DO NOTHING",
        (key, to_db(now)),
    )
    return cursor.rowcount == 1


async def claim(tx: Tx, key: str, now: datetime) -> bool:
    return await on_thread(tx, claim_in, key, now)


async def count_waiting(tx: Tx) -> int:
    row = await fetch_one(tx, "SELECT count(*) FROM inbox")
    return int(row[0]) if row else 0
