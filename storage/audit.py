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


@dataclass(frozen=True)
class Page:
    entries: list[tuple[int, Entry]]
    before: int | None
    """The id the next (older) page starts below; None at the end."""


async def page(tx: Tx, before: int | None, actor: str = "", size: int = 100) -> Page:
    """The newest entries first, a keyset page at a time, optionally of one actor."""
    where, params = "id < ?", [str(before if before is not None else 2**62)]
    if actor:
        where += " AND actor = ?"
        params.append(actor)
    rows = await fetch_all(
        tx,
        f"SELECT id, at, actor, action, target, detail FROM audit_log WHERE {where} "
        "ORDER BY id DESC LIMIT ?",
        (*params, size + 1),
    )
    found = [
        (r["id"], Entry(from_db(r["at"]), r["actor"], r["action"], r["target"], r["detail"]))
        for r in rows[:size]
    ]
    return Page(found, found[-1][0] if len(rows) > size else None)
