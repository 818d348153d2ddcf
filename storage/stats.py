"""The counts behind the census and the handling statistics, in as few queries as it takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all
from storage.timefmt import from_db

Counts = dict[str, int]


@dataclass(frozen=True)
class Handling:
    """One item's life, for rates and durations."""

    kind: str
    status: str
    rating: int | None
    created_at: datetime
    first_handled_at: datetime | None
    """The first move away from "submitted", by anyone but the rider."""
    resolved_at: datetime | None
    overdue: bool


async def _grouped(tx: Tx, sql: str, params: tuple[object, ...] = ()) -> Counts:
    rows = await fetch_all(tx, sql, params)
    return {str(row[0]): int(row[1]) for row in rows}


async def declarations_by(tx: Tx, column: str) -> Counts:
    """Declarations counted by one of their own columns."""
    if column not in ("political_status", "platform", "district", "status"):
        raise ValueError(column)
    return await _grouped(
        tx, f"SELECT {column}, COUNT(*) FROM declarations GROUP BY {column} ORDER BY 2 DESC"
    )


async def declarations_by_branch(tx: Tx) -> dict[str, Counts]:
    """Branch name → declarations of its members by review status; no branch is ''."""
    rows = await fetch_all(
        tx,
        "SELECT COALESCE(b.name, ''), d.status, COUNT(*) FROM declarations d "
        "LEFT JOIN memberships m ON m.user_id = d.user_id "
        "LEFT JOIN branches b ON b.id = m.branch_id GROUP BY 1, 2",
    )
    result: dict[str, Counts] = {}
    for name, status, count in rows:
        result.setdefault(name, {})[status] = count
    return result


async def reports_by(tx: Tx, column: str) -> dict[str, Counts]:
    """Kind → counts by category or status."""
    if column not in ("category", "status"):
        raise ValueError(column)
    rows = await fetch_all(
        tx, f"SELECT kind, {column}, COUNT(*) FROM reports GROUP BY kind, {column} ORDER BY 3 DESC"
    )
    result: dict[str, Counts] = {}
    for kind, value, count in rows:
        result.setdefault(kind, {})[value] = count
    return result


async def handling(tx: Tx) -> list[Handling]:
    rows = await fetch_all(
        tx,
        "SELECT r.kind, r.status, r.rating, r.created_at, "
        " (SELECT MIN(h.at) FROM report_history h WHERE h.report_id = r.id "
        "  AND h.from_status = 'submitted' AND h.actor != r.reporter), "
        " (SELECT MIN(h.at) FROM report_history h WHERE h.report_id = r.id "
        "  AND h.to_status = 'resolved'), "
        " r.overdue_level "
        "FROM reports r",
    )
    return [
        Handling(
            kind=row[0],
            status=row[1],
            rating=row[2],
            created_at=from_db(row[3]),
            first_handled_at=from_db(row[4]) if row[4] else None,
            resolved_at=from_db(row[5]) if row[5] else None,
            overdue=bool(row[6]),
        )
        for row in rows
    ]
