"""Items as a desk reads them: filtered tables a page at a time, points for a map, what is
due, and who is behind.

Pages are keyset pages (after the last item shown, never an offset), so the thousandth page
costs what the first does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.reports import COLUMNS, IS_OPEN, Report, from_row
from storage.timefmt import from_db, to_db

DUE = "CASE WHEN status IN ('submitted', 'forwarded') THEN ack_due_at ELSE answer_due_at END"
"""When an open item's next step is due: its acknowledgement, then its answer."""


@dataclass(frozen=True)
class ItemFilter:
    kind: str = ""
    category: str = ""
    status: str = ""
    overdue: bool = False
    since: datetime | None = None
    until: datetime | None = None
    branches: frozenset[int] | None = None
    """The organisations whose items may be shown; None: all of them, the unrouted ones too."""

    def where(self, *, by_age: bool = False) -> tuple[str, list[Any]]:
        """The filter as SQL; ``by_age``: read the items newest (or oldest) first and skip what
        does not match, instead of looking the matches up by organisation or status and
        sorting them all (``+column`` keeps SQLite from using those columns' indexes)."""
        mark = "+" if by_age else ""
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("kind", "category", "status"):
            if value := getattr(self, column):
                clauses.append(f"{mark}{column} = ?")
                params.append(value)
        if self.overdue:
            clauses.append(f"overdue_level > 0 AND {IS_OPEN}")
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(to_db(self.since))
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(to_db(self.until))
        if self.branches is not None:
            clauses.append(f"{mark}branch_id {IN_LIST}")
            params.append(as_list(sorted(self.branches)))
        return " AND ".join(clauses) or "1", params


@dataclass(frozen=True)
class Page:
    items: list[Report]
    total: int
    after: str | None
    """Where the next page starts (``created_at|id`` of this page's last item); None at the end."""


PAGE_SIZE = 50
READ_AT_MOST = 50_000
"""Items read in age order to fill a page, on average, before sorting the matches is cheaper."""


async def _dense(tx: Tx, matching: int, wanted: int) -> bool:
    """Do the matches lie thick enough among all items that reading in age order finds
    ``wanted`` of them within :data:`READ_AT_MOST`? (A committee's tenth of a million items:
    yes, and sorting its 100,000 would cost more. A station's fifty: no.)"""
    row = await fetch_one(tx, "SELECT MAX(id) FROM reports")
    everything = int(row[0] or 0) if row else 0
    return wanted * everything <= READ_AT_MOST * max(matching, 1)


async def page(tx: Tx, chosen: ItemFilter, after: str = "", *, oldest_first: bool = False) -> Page:
    where, params = chosen.where()
    counted = await fetch_one(tx, f"SELECT COUNT(*) FROM reports WHERE {where}", params)
    total = int(counted[0]) if counted else 0
    if await _dense(tx, total, PAGE_SIZE):
        where, params = chosen.where(by_age=True)
    order, beyond = ("ASC", ">") if oldest_first else ("DESC", "<")
    keyset, beyond_last = "", []
    stamp, _, last_id = after.partition("|")
    if last_id.isdigit():
        keyset = f" AND (created_at, id) {beyond} (?, ?)"
        beyond_last = [stamp, int(last_id)]
    rows = await fetch_all(
        tx,
        f"SELECT {COLUMNS} FROM reports WHERE {where}{keyset} "
        f"ORDER BY created_at {order}, id {order} LIMIT ?",
        (*params, *beyond_last, PAGE_SIZE + 1),
    )
    items = [from_row(row) for row in rows[:PAGE_SIZE]]
    more = len(rows) > PAGE_SIZE
    last = rows[PAGE_SIZE - 1] if more else None
    return Page(
        items=items,
        total=total,
        after=f"{last['created_at']}|{last['id']}" if last is not None else None,
    )


@dataclass(frozen=True)
class Point:
    ref: str
    kind: str
    category: str
    status: str
    latitude: float
    longitude: float


MAP_POINTS = 5000
"""The newest this many items are drawn; clusters keep even these legible."""


async def points(tx: Tx, chosen: ItemFilter) -> list[Point]:
    where, params = chosen.where()
    counted = await fetch_one(tx, f"SELECT COUNT(*) FROM reports WHERE {where}", params)
    if await _dense(tx, int(counted[0]) if counted else 0, MAP_POINTS):
        where, params = chosen.where(by_age=True)
    rows = await fetch_all(
        tx,
        "SELECT ref, kind, category, status, latitude, longitude FROM reports "
        f"WHERE {where} AND latitude IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT ?",
        (*params, MAP_POINTS),
    )
    return [Point(*row) for row in rows]


async def due_between(
    tx: Tx, branches: frozenset[int] | None, start: datetime, end: datetime
) -> list[Report]:
    """Open items whose next step falls due in ``[start, end)``, soonest first; an item already
    late is due before ``start``."""
    scope, params = ItemFilter(branches=branches).where()
    rows = await fetch_all(
        tx,
        f"SELECT {COLUMNS} FROM reports WHERE {IS_OPEN} AND {scope} "
        f"AND {DUE} >= ? AND {DUE} < ? ORDER BY {DUE} LIMIT 500",
        (*params, to_db(start), to_db(end)),
    )
    return [from_row(row) for row in rows]


@dataclass(frozen=True)
class Behind:
    branch_id: int | None
    branch: str
    open: int
    late: int
    oldest_due: datetime | None


async def behind(tx: Tx, branches: frozenset[int] | None, now: datetime) -> list[Behind]:
    """Per organisation: open items, how many are past their due time, the longest late first."""
    scope, params = ItemFilter(branches=branches).where()
    rows = await fetch_all(
        tx,
        f"SELECT r.branch_id, COALESCE(b.name, ''), COUNT(*), TOTAL({DUE} < ?), "
        f"MIN(CASE WHEN {DUE} < ? THEN {DUE} END) FROM reports r "
        f"LEFT JOIN branches b ON b.id = r.branch_id WHERE {IS_OPEN} AND {scope} "
        "GROUP BY r.branch_id ORDER BY 4 DESC, 3 DESC",
        (to_db(now), to_db(now), *params),
    )
    return [
        Behind(row[0], row[1], int(row[2]), int(row[3]), from_db(row[4]) if row[4] else None)
        for row in rows
    ]
