"""The audit log: every secretary and admin action, append only.

It names the actor, the action and its target (a reference number, a branch code, a user the
action was about); an anonymous griever is never a target, only the item's reference is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


async def record(
    tx: Tx, actor: str, action: str, target: str, now: datetime, detail: str = ""
) -> None:
    await tx.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (to_db(now), actor, action, target, detail),
    )


async def entries(tx: Tx, limit: int = 1000) -> list[Entry]:
    """The newest entries, oldest first."""
    rows = await fetch_all(
        tx,
        "SELECT at, actor, action, target, detail FROM "
        "(SELECT * FROM audit_log ORDER BY id DESC LIMIT ?) ORDER BY id",
        (limit,),
    )
    return [
        Entry(from_db(r["at"]), r["actor"], r["action"], r["target"], r["detail"]) for r in rows
    ]
