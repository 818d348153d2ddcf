"""Points (积分): earned by confirmed hazard reports, shown at 暖新商户 for rider offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all, fetch_one
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Award:
    delta: int
    reason: str
    ref: str | None
    at: datetime


async def award(
    tx: Tx, user_id: str, delta: int, reason: str, report_id: int, now: datetime
) -> bool:
    """Once per user, reason and report: confirming the same item twice pays once."""
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO points (user_id, delta, reason, report_id, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (user_id, delta, reason, report_id, to_db(now)),
    )
    return cursor.rowcount == 1


async def take_back(
    tx: Tx, user_id: str, given_for: str, reason: str, report_id: int, now: datetime
) -> int:
    """Takes back, once, what was given for ``given_for`` on this report; how many points
    (0 when nothing had been given)."""
    row = await fetch_one(
        tx,
        "INSERT OR IGNORE INTO points (user_id, delta, reason, report_id, at) "
        "SELECT user_id, -delta, ?, report_id, ? FROM points "
        "WHERE user_id = ? AND reason = ? AND report_id = ? RETURNING -delta",
        (reason, to_db(now), user_id, given_for, report_id),
    )
    return int(row[0]) if row else 0


async def history(tx: Tx, user_id: str) -> list[Award]:
    rows = await fetch_all(
        tx,
        "SELECT p.delta, p.reason, r.ref, p.at FROM points p "
        "LEFT JOIN reports r ON r.id = p.report_id WHERE p.user_id = ? ORDER BY p.id",
        (user_id,),
    )
    return [Award(r["delta"], r["reason"], r["ref"], from_db(r["at"])) for r in rows]
