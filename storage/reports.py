"""Hazard reports (随手拍) and grievances (诉求): one aggregate, one lifecycle.

Both carry a reference number, photos, co-reporters ("me too") and an append-only status
history; they differ only in their categories and in who may stay anonymous.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.timefmt import from_db, to_db

OPEN_STATUSES = ("submitted", "acknowledged", "in_progress", "forwarded")
IS_OPEN = "status IN ('submitted', 'acknowledged', 'in_progress', 'forwarded')"
"""OPEN_STATUSES written out, as the partial index of open items is (migration 17): a
statement binding them as parameters could not use it."""


@dataclass(frozen=True)
class NewReport:
    kind: str
    category: str
    subcategory: str | None
    description: str
    voice: str | None
    latitude: float | None
    longitude: float | None
    address: str | None
    location_source: str | None
    anonymous: bool
    reporter: str
    branch_id: int | None


@dataclass(frozen=True)
class Report(NewReport):
    id: int
    ref: str
    status: str
    reopened: bool
    rating: int | None
    rating_comment: str | None
    created_at: datetime
    updated_at: datetime
    ack_due_at: datetime | None
    answer_due_at: datetime | None
    overdue_level: int
    """0 on time; n: escalated n levels up the tree for being late."""


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str


COLUMNS = ", ".join(f.name for f in fields(Report))
_NEW_COLUMNS = [f.name for f in fields(NewReport)]


def from_row(row: Any) -> Report:
    values = dict(row)
    values["anonymous"] = bool(values["anonymous"])
    values["reopened"] = bool(values["reopened"])
    values["created_at"] = from_db(values["created_at"])
    values["updated_at"] = from_db(values["updated_at"])
    for name in ("ack_due_at", "answer_due_at"):
        values[name] = from_db(values[name]) if values[name] else None
    return Report(**values)


async def _reports(tx: Tx, where: str, params: tuple[Any, ...]) -> list[Report]:
    rows = await fetch_all(tx, f"SELECT {COLUMNS} FROM reports WHERE {where}", params)
    return [from_row(row) for row in rows]


async def next_ref(tx: Tx, prefix: str, day: str) -> str:
    """``YH-20261129-0007``: a per-day sequence, taken inside the creating transaction."""
    row = await fetch_one(
        tx,
        "INSERT INTO ref_counters (prefix, day, last) VALUES (?, ?, 1) "
        "ON CONFLICT(prefix, day) DO UPDATE SET last = last + 1 RETURNING last",
        (prefix, day),
    )
    assert row is not None
    return f"{prefix}-{day}-{row[0]:04d}"


async def create(tx: Tx, new: NewReport, ref: str, photos: list[str], now: datetime) -> Report:
    stamp = to_db(now)
    values = [getattr(new, name) for name in _NEW_COLUMNS]
    cursor = await tx.execute(
        f"INSERT INTO reports ({', '.join(_NEW_COLUMNS)}, ref, status, created_at, updated_at) "
        f"VALUES ({', '.join('?' * len(values))}, ?, 'submitted', ?, ?)",
        (*values, ref, stamp, stamp),
    )
    report_id = cursor.lastrowid
    assert report_id is not None
    await add_reporter(tx, report_id, new.reporter, now)
    await add_photos(tx, report_id, photos, new.reporter, now)
    await _record(tx, report_id, now, new.reporter, None, "submitted", "")
    report = await get(tx, ref)
    assert report is not None
    return report


async def get(tx: Tx, ref: str) -> Report | None:
    found = await _reports(tx, "ref = ?", (ref.upper(),))
    return found[0] if found else None


async def open_near(
    tx: Tx, category: str, latitude: float, longitude: float, radius_m: float
) -> list[Report]:
    """Open hazards of a category in the bounding box of the radius (the index's work);
    callers keep those truly within the radius."""
    dlat = radius_m / 111_320
    dlon = radius_m / (111_320 * max(math.cos(math.radians(latitude)), 0.01))
    marks = ",".join("?" * len(OPEN_STATUSES))
    return await _reports(
        tx,
        f"kind = 'hazard' AND category = ? AND status IN ({marks}) "
        "AND latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ? ORDER BY id",
        (
            category,
            *OPEN_STATUSES,
            latitude - dlat,
            latitude + dlat,
            longitude - dlon,
            longitude + dlon,
        ),
    )


async def open_grievances(tx: Tx, category: str, branch_id: int | None) -> list[Report]:
    """Open grievances of a category in one branch (or the default queue), newest first."""
    marks = ",".join("?" * len(OPEN_STATUSES))
    return await _reports(
        tx,
        f"kind = 'grievance' AND category = ? AND status IN ({marks}) "
        "AND branch_id IS ? ORDER BY id DESC LIMIT 3",
        (category, *OPEN_STATUSES, branch_id),
    )


async def add_reporter(tx: Tx, report_id: int, user_id: str, now: datetime) -> bool:
    cursor = await tx.execute(
        "INSERT INTO report_reporters (report_id, user_id, joined_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (report_id, user_id, to_db(now)),
    )
    return cursor.rowcount == 1


async def add_photos(tx: Tx, report_id: int, shas: list[str], user_id: str, now: datetime) -> None:
    await tx.executemany(
        "INSERT INTO report_photos (report_id, sha256, added_by, added_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [(report_id, sha, user_id, to_db(now)) for sha in shas],
    )


async def reporters(tx: Tx, report_id: int) -> list[str]:
    rows = await fetch_all(
        tx,
        "SELECT user_id FROM report_reporters WHERE report_id = ? ORDER BY joined_at",
        (report_id,),
    )
    return [row[0] for row in rows]


async def photos(tx: Tx, report_id: int) -> list[str]:
    rows = await fetch_all(
        tx,
        "SELECT sha256 FROM report_photos WHERE report_id = ? ORDER BY added_at, sha256",
        (report_id,),
    )
    return [row[0] for row in rows]


async def set_status(
    tx: Tx,
    report: Report,
    to_status: str,
    actor: str,
    note: str,
    now: datetime,
    *,
    reopening: bool = False,
) -> None:
    """Moves the item on, recording how long it waited for its first handling (a move from
    "submitted" by anyone but its reporter) and for its first resolution."""
    stamp = to_db(now)
    await tx.execute(
        "UPDATE reports SET status = ?, updated_at = ?, reopened = reopened OR ?, "
        "hours_to_ack = CASE WHEN hours_to_ack IS NULL AND status = 'submitted' "
        "AND reporter != ? THEN (julianday(?) - julianday(created_at)) * 24 "
        "ELSE hours_to_ack END, "
        "hours_to_resolve = CASE WHEN hours_to_resolve IS NULL AND ? = 'resolved' "
        "THEN (julianday(?) - julianday(created_at)) * 24 ELSE hours_to_resolve END "
        "WHERE id = ?",
        (to_status, stamp, 1 if reopening else 0, actor, stamp, to_status, stamp, report.id),
    )
    await _record(tx, report.id, now, actor, report.status, to_status, note)


async def _record(
    tx: Tx,
    report_id: int,
    now: datetime,
    actor: str,
    from_status: str | None,
    to_status: str,
    note: str,
) -> None:
    await tx.execute(
        "INSERT INTO report_history (report_id, at, actor, from_status, to_status, note) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (report_id, to_db(now), actor, from_status, to_status, note),
    )


async def history(tx: Tx, report_id: int) -> list[HistoryEntry]:
    rows = await fetch_all(
        tx,
        "SELECT at, actor, from_status, to_status, note FROM report_history "
        "WHERE report_id = ? ORDER BY id",
        (report_id,),
    )
    return [
        HistoryEntry(from_db(r["at"]), r["actor"], r["from_status"], r["to_status"], r["note"])
        for r in rows
    ]


async def rate(tx: Tx, report_id: int, rating: int, comment: str | None) -> None:
    await tx.execute(
        "UPDATE reports SET rating = ?, rating_comment = ? WHERE id = ?",
        (rating, comment, report_id),
    )


async def of_user(tx: Tx, user_id: str, limit: int = 10) -> list[Report]:
    """What a rider filed or joined, newest first."""
    return await _reports(
        tx,
        "id IN (SELECT report_id FROM report_reporters WHERE user_id = ?) "
        "ORDER BY id DESC LIMIT ?",
        (user_id, limit),
    )


async def of_kind(tx: Tx, kind: str) -> list[Report]:
    return await _reports(tx, "kind = ? ORDER BY id", (kind,))


def stream(conn: sqlite3.Connection, kind: str) -> Iterator[tuple[Report, int, int]]:
    """Every item of a kind, oldest first, with its counts of photos and of reporters, one
    at a time from a snapshot (see ``Database.read_snapshot``): memory stays flat."""
    cursor = conn.execute(
        f"SELECT {COLUMNS}, "
        "(SELECT COUNT(*) FROM report_photos p WHERE p.report_id = reports.id) AS photos, "
        "(SELECT COUNT(*) FROM report_reporters q WHERE q.report_id = reports.id) AS reporters "
        "FROM reports WHERE kind = ? ORDER BY id",
        (kind,),
    )
    for row in cursor:
        values = dict(row)
        photos, reporters = values.pop("photos"), values.pop("reporters")
        yield from_row(values), photos, reporters


async def reporter_counts(tx: Tx, report_ids: list[int]) -> dict[int, int]:
    if not report_ids:
        return {}
    rows = await fetch_all(
        tx,
        "SELECT report_id, count(*) FROM report_reporters "
        f"WHERE report_id {IN_LIST} GROUP BY report_id",
        (as_list(report_ids),),
    )
    return {row[0]: row[1] for row in rows}


async def move_to(tx: Tx, report_id: int, branch_id: int | None) -> None:
    """Hands the item to another branch or organisation (forwarded up the tree)."""
    await tx.execute("UPDATE reports SET branch_id = ? WHERE id = ?", (branch_id, report_id))


async def awaiting(tx: Tx, branch_ids: frozenset[int] | None) -> list[Report]:
    """Open items of these branches (None: every branch and the unrouted queue), oldest
    first: what a secretary or an admin still has to handle."""
    if branch_ids is None:
        return await _reports(tx, f"{IS_OPEN} ORDER BY created_at, id LIMIT 50", ())
    return await _reports(
        tx,
        f"{IS_OPEN} AND branch_id {IN_LIST} ORDER BY created_at, id LIMIT 50",
        (as_list(sorted(branch_ids)),),
    )


async def set_deadlines(tx: Tx, report_id: int, ack_due: datetime, answer_due: datetime) -> None:
    await tx.execute(
        "UPDATE reports SET ack_due_at = ?, answer_due_at = ? WHERE id = ?",
        (to_db(ack_due), to_db(answer_due), report_id),
    )


async def mark_overdue(tx: Tx, report_id: int, level: int) -> None:
    """How far up the tree the item has been escalated for being late."""
    await tx.execute(
        "UPDATE reports SET overdue_level = MAX(overdue_level, ?) WHERE id = ?",
        (level, report_id),
    )
