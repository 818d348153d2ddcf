"""The counts behind the census and the handling statistics, as aggregates SQLite computes.

These read a snapshot (:meth:`storage.db.Database.read_snapshot`) in a worker thread, so
neither the event loop nor the writer waits for them.
Medians come from indexes of each item's hours (set when its status changes), read from the
middle, so they cost a count and a step into the index, not a sort.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import IN_LIST, as_list
from storage.timefmt import to_db

Counts = dict[str, int]
Scope = frozenset[int] | None
"""The organisations counted; None: everything, unrouted items too."""


def _within(scope: Scope, column: str) -> tuple[str, tuple[Any, ...]]:
    if scope is None:
        return "", ()
    return f" AND {column} {IN_LIST}", (as_list(sorted(scope)),)


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


def _grouped(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> Counts:
    return {str(key): int(count) for key, count in conn.execute(sql, params)}


def declarations_by(conn: sqlite3.Connection, column: str, scope: Scope = None) -> Counts:
    """Declarations counted by one of their own columns (of members of ``scope``)."""
    if column not in ("political_status", "platform", "district", "status"):
        raise ValueError(column)
    if scope is None:
        return _grouped(
            conn, f"SELECT {column}, COUNT(*) FROM declarations GROUP BY {column} ORDER BY 2 DESC"
        )
    within, params = _within(scope, "m.branch_id")
    return _grouped(
        conn,
        f"SELECT d.{column}, COUNT(*) FROM declarations d "
        f"JOIN memberships m ON m.user_id = d.user_id{within} GROUP BY 1 ORDER BY 2 DESC",
        params,
    )


def declarations_by_branch(conn: sqlite3.Connection, scope: Scope = None) -> dict[str, Counts]:
    """Branch name → declarations of its members by review status; no branch is ''."""
    within, params = _within(scope, "m.branch_id")
    rows = conn.execute(
        "SELECT COALESCE(b.name, ''), d.status, COUNT(*) FROM declarations d "
        "LEFT JOIN memberships m ON m.user_id = d.user_id "
        f"LEFT JOIN branches b ON b.id = m.branch_id WHERE 1{within} GROUP BY 1, 2",
        params,
    )
    result: dict[str, Counts] = {}
    for name, status, count in rows:
        result.setdefault(name, {})[status] = count
    return result


def item_counts(conn: sqlite3.Connection, scope: Scope = None) -> list[ItemCounts]:
    """Every count the statistics show of items, in one pass over an index that holds them
    (``reports_figures``), never over the items themselves."""
    within, params = _within(scope, "branch_id")
    rows = conn.execute(
        "SELECT kind, status, category, COUNT(*), TOTAL(overdue_level > 0), "
        "TOTAL(hours_to_ack IS NOT NULL), TOTAL(rating IS NOT NULL), TOTAL(rating >= 4) "
        f"FROM reports WHERE 1{within} GROUP BY kind, status, category",
        params,
    )
    return [
        ItemCounts(kind, status, category, *(int(n) for n in counts))
        for kind, status, category, *counts in rows
    ]


def median_hours(conn: sqlite3.Connection, column: str, scope: Scope = None) -> float | None:
    """The median of ``hours_to_ack`` or ``hours_to_resolve`` over items that have one."""
    if column not in ("hours_to_ack", "hours_to_resolve"):
        raise ValueError(column)
    within, params = _within(scope, "branch_id")
    where = f"{column} IS NOT NULL{within}"
    count = conn.execute(f"SELECT COUNT(*) FROM reports WHERE {where}", params).fetchone()[0]
    if not count:
        return None
    middle = conn.execute(
        f"SELECT {column} FROM reports WHERE {where} ORDER BY {column} LIMIT ? OFFSET ?",
        (*params, 2 - count % 2, (count - 1) // 2),
    ).fetchall()
    return float(sum(value for (value,) in middle) / len(middle))


@dataclass(frozen=True)
class Week:
    monday: str
    """The week's Monday, Beijing time (``YYYY-MM-DD``)."""
    hazards: int
    grievances: int
    resolved: int
    """Of the week's items, those resolved or closed since."""


def weekly(conn: sqlite3.Connection, since: datetime, scope: Scope = None) -> list[Week]:
    """Items filed week by week from ``since``: a range of the age index, not the whole table.
    Weeks are Beijing's (UTC+8 all year), starting on Monday. The organisations are checked
    on each row (``+branch_id``), so the range of dates, not an organisation's every item, is
    what is read."""
    within, params = _within(scope, "+branch_id")
    rows = conn.execute(
        "SELECT date(created_at, '+8 hours', '-6 days', 'weekday 1') AS week, "
        "TOTAL(kind = 'hazard'), TOTAL(kind = 'grievance'), "
        "TOTAL(status IN ('resolved', 'closed')) "
        f"FROM reports WHERE created_at >= ?{within} GROUP BY week ORDER BY week",
        (to_db(since), *params),
    )
    return [Week(week, int(h), int(g), int(r)) for week, h, g, r in rows]
