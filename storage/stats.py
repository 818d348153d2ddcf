"""The counts behind the census and the handling statistics, as aggregates SQLite computes.

These read a snapshot (:meth:`storage.db.Database.read_snapshot`) in a worker thread: at a
million items a figure takes a scan, and neither the event loop nor the writer waits for it.
Medians come from indexes of each item's hours (set when its status changes), read from the
middle, so they cost a count and a step into the index, not a sort.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.reports import IS_OPEN

Counts = dict[str, int]


@dataclass(frozen=True)
class Handling:
    total: int
    overdue: int
    responded: int
    """Items someone other than the rider moved on from "submitted"."""
    resolved: int
    rated: int
    satisfied: int
    """Rated 4 or 5."""
    still_open: int


def _grouped(conn: sqlite3.Connection, sql: str) -> Counts:
    return {str(key): int(count) for key, count in conn.execute(sql)}


def declarations_by(conn: sqlite3.Connection, column: str) -> Counts:
    """Declarations counted by one of their own columns."""
    if column not in ("political_status", "platform", "district", "status"):
        raise ValueError(column)
    return _grouped(
        conn, f"SELECT {column}, COUNT(*) FROM declarations GROUP BY {column} ORDER BY 2 DESC"
    )


def declarations_by_branch(conn: sqlite3.Connection) -> dict[str, Counts]:
    """Branch name → declarations of its members by review status; no branch is ''."""
    rows = conn.execute(
        "SELECT COALESCE(b.name, ''), d.status, COUNT(*) FROM declarations d "
        "LEFT JOIN memberships m ON m.user_id = d.user_id "
        "LEFT JOIN branches b ON b.id = m.branch_id GROUP BY 1, 2"
    )
    result: dict[str, Counts] = {}
    for name, status, count in rows:
        result.setdefault(name, {})[status] = count
    return result


def reports_by(conn: sqlite3.Connection, column: str) -> dict[str, Counts]:
    """Kind → counts by category or status."""
    if column not in ("category", "status"):
        raise ValueError(column)
    rows = conn.execute(
        f"SELECT kind, {column}, COUNT(*) FROM reports GROUP BY kind, {column} ORDER BY 3 DESC"
    )
    result: dict[str, Counts] = {}
    for kind, value, count in rows:
        result.setdefault(kind, {})[value] = count
    return result


def handling(conn: sqlite3.Connection) -> Handling:
    row = conn.execute(
        "SELECT COUNT(*), TOTAL(overdue_level > 0), TOTAL(hours_to_ack IS NOT NULL), "
        "TOTAL(status IN ('resolved', 'closed')), TOTAL(rating IS NOT NULL), "
        f"TOTAL(rating >= 4), TOTAL({IS_OPEN}) FROM reports"
    ).fetchone()
    return Handling(*(int(value) for value in row))


def median_hours(conn: sqlite3.Connection, column: str) -> float | None:
    """The median of ``hours_to_ack`` or ``hours_to_resolve`` over items that have one."""
    if column not in ("hours_to_ack", "hours_to_resolve"):
        raise ValueError(column)
    count = conn.execute(f"SELECT COUNT(*) FROM reports WHERE {column} IS NOT NULL").fetchone()[0]
    if not count:
        return None
    middle = conn.execute(
        f"SELECT {column} FROM reports WHERE {column} IS NOT NULL ORDER BY {column} "
        "LIMIT ? OFFSET ?",
        (2 - count % 2, (count - 1) // 2),
    ).fetchall()
    return float(sum(value for (value,) in middle) / len(middle))
