"""The counts behind the census and the handling statistics, as aggregates SQLite computes.

These read a snapshot (:meth:`storage.db.Database.read_snapshot`) in a worker thread, so
neither the event loop nor the writer waits for them.
Medians come from indexes of each item's hours (set when its status changes), read from the
middle, so they cost a count and a step into the index, not a sort.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

Counts = dict[str, int]


@dataclass(frozen=True)
class ItemCounts:
    """The items of one kind, status and category."""

    kind: str
    status: str
    category: str
    items: int
    overdue: int
    responded: int
    """Moved on from "submitted" by someone other than the rider."""
    rated: int
    satisfied: int
    """Rated 4 or 5."""


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


def item_counts(conn: sqlite3.Connection) -> list[ItemCounts]:
    """Every count the statistics show of items, in one pass over an index that holds them
    (``reports_figures``), never over the items themselves."""
    rows = conn.execute(
        "SELECT kind, status, category, COUNT(*), TOTAL(overdue_level > 0), "
        "TOTAL(hours_to_ack IS NOT NULL), TOTAL(rating IS NOT NULL), TOTAL(rating >= 4) "
        "FROM reports GROUP BY kind, status, category"
    )
    return [
        ItemCounts(kind, status, category, *(int(n) for n in counts))
        for kind, status, category, *counts in rows
    ]


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
