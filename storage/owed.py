"""Work an event left for after its transaction (a statistic, an export), kept until its
answer is queued, so a crash in between leaves it owed, not forgotten."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, fetch_all, fetch_one
from storage.timefmt import to_db


@dataclass(frozen=True)
class Owed:
    id: int
    user_id: str
    kind: str
    payload: dict[str, Any]


async def add(tx: Tx, user_id: str, kind: str, payload: dict[str, Any], now: datetime) -> Owed:
    row = await fetch_one(
        tx,
        "INSERT INTO owed_work (user_id, kind, payload, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id",
        (user_id, kind, json.dumps(payload, ensure_ascii=False), to_db(now)),
    )
    assert row is not None
    return Owed(int(row["id"]), user_id, kind, payload)


async def waiting(tx: Tx) -> list[Owed]:
    rows = await fetch_all(tx, "SELECT id, user_id, kind, payload FROM owed_work ORDER BY id")
    return [Owed(r["id"], r["user_id"], r["kind"], json.loads(r["payload"])) for r in rows]


async def begin(tx: Tx, owed_id: int) -> int:
    """Counts an attempt; returns how many there have been, this one included."""
    row = await fetch_one(
        tx, "UPDATE owed_work SET tries = tries + 1 WHERE id = ? RETURNING tries", (owed_id,)
    )
    return int(row["tries"]) if row else 0


async def settle(tx: Tx, owed_id: int) -> None:
    await tx.execute("DELETE FROM owed_work WHERE id = ?", (owed_id,))
