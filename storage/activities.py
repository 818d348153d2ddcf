"""Branch activities, their RSVPs and check-ins. An occurrence of a recurring activity is
named by its start time (``to_db`` form), so answers and attendance are per occurrence."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class NewActivity:
    title: str
    kind: str
    starts_at: datetime
    address: str
    latitude: float | None
    longitude: float | None
    link: str
    recurrence: str
    checkin_code: str
    created_by: str


@dataclass(frozen=True)
class Activity(NewActivity):
    id: int
    branch_ids: tuple[int, ...]


@dataclass(frozen=True)
class Attendance:
    user_id: str
    answer: str | None
    checked_in_at: datetime | None
    method: str | None


_COLUMNS = (
    "id, title, kind, starts_at, address, latitude, longitude, link, recurrence, "
    "checkin_code, created_by"
)


async def create(tx: Tx, new: NewActivity, branch_ids: list[int], now: datetime) -> Activity:
    cursor = await tx.execute(
        "INSERT INTO activities (title, kind, starts_at, address, latitude, longitude, link, "
        "recurrence, checkin_code, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            new.title,
            new.kind,
            to_db(new.starts_at),
            new.address,
            new.latitude,
            new.longitude,
            new.link,
            new.recurrence,
            new.checkin_code,
            new.created_by,
            to_db(now),
        ),
    )
    assert cursor.lastrowid is not None
    await tx.executemany(
        "INSERT INTO activity_branches (activity_id, branch_id) VALUES (?, ?)",
        [(cursor.lastrowid, b) for b in branch_ids],
    )
    found = await get(tx, cursor.lastrowid)
    assert found is not None
    return found


async def _activity(tx: Tx, row: Any) -> Activity:
    rows = await fetch_all(
        tx,
        "SELECT branch_id FROM activity_branches WHERE activity_id = ? ORDER BY branch_id",
        (row["id"],),
    )
    branch_ids = tuple(r[0] for r in rows)
    values = dict(row)
    values["starts_at"] = from_db(values["starts_at"])
    return Activity(branch_ids=branch_ids, **values)


async def get(tx: Tx, activity_id: int) -> Activity | None:
    sql = f"SELECT {_COLUMNS} FROM activities WHERE id = ?"
    row = await fetch_one(tx, sql, (activity_id,))
    return await _activity(tx, row) if row else None


async def of_branches(
    tx: Tx, branch_ids: frozenset[int] | None, limit: int = 20
) -> list[Activity]:
    """Activities of these branches (None: all), newest first."""
    where, params = "", tuple[str, ...]()
    if branch_ids is not None:
        chosen = f"SELECT activity_id FROM activity_branches WHERE branch_id {IN_LIST}"
        where = f"WHERE id IN ({chosen})"
        params = (as_list(sorted(branch_ids)),)
    rows = await fetch_all(
        tx, f"SELECT {_COLUMNS} FROM activities {where} ORDER BY id DESC LIMIT ?", (*params, limit)
    )
    return [await _activity(tx, row) for row in rows]


async def members(tx: Tx, activity: Activity) -> list[str]:
    """Everyone in the activity's branches."""
    rows = await fetch_all(
        tx,
        f"SELECT user_id FROM memberships WHERE branch_id {IN_LIST} ORDER BY user_id",
        (as_list(activity.branch_ids),),
    )
    return [row[0] for row in rows]


async def answer(
    tx: Tx, activity_id: int, occurrence: datetime, user_id: str, reply: str, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO rsvps (activity_id, occurrence, user_id, answer, at) VALUES (?,?,?,?,?) "
        "ON CONFLICT(activity_id, occurrence, user_id) DO UPDATE SET answer = excluded.answer, "
        "at = excluded.at",
        (activity_id, to_db(occurrence), user_id, reply, to_db(now)),
    )


async def accepted(tx: Tx, activity_id: int, occurrence: datetime) -> list[str]:
    rows = await fetch_all(
        tx,
        "SELECT user_id FROM rsvps WHERE activity_id = ? AND occurrence = ? AND answer = 'yes' "
        "ORDER BY at",
        (activity_id, to_db(occurrence)),
    )
    return [row[0] for row in rows]


async def check_in(
    tx: Tx, activity_id: int, occurrence: datetime, user_id: str, method: str, now: datetime
) -> bool:
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO checkins (activity_id, occurrence, user_id, method, at) "
        "VALUES (?,?,?,?,?)",
        (activity_id, to_db(occurrence), user_id, method, to_db(now)),
    )
    return cursor.rowcount == 1


async def wrong_codes(
    tx: Tx, activity_id: int, occurrence: datetime, user_id: str
) -> tuple[int, datetime | None]:
    """How many wrong check-in codes the rider gave for this occurrence, and the last when."""
    row = await fetch_one(
        tx,
        "SELECT failures, last_at FROM checkin_tries "
        "WHERE activity_id = ? AND occurrence = ? AND user_id = ?",
        (activity_id, to_db(occurrence), user_id),
    )
    return (row["failures"], from_db(row["last_at"])) if row else (0, None)


async def count_wrong_code(
    tx: Tx, activity_id: int, occurrence: datetime, user_id: str, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO checkin_tries (activity_id, occurrence, user_id, failures, last_at) "
        "VALUES (?, ?, ?, 1, ?) ON CONFLICT (activity_id, occurrence, user_id) DO UPDATE SET "
        "failures = failures + 1, last_at = excluded.last_at",
        (activity_id, to_db(occurrence), user_id, to_db(now)),
    )


async def checked_in(tx: Tx, activity_id: int, occurrence: datetime, user_id: str) -> bool:
    row = await fetch_one(
        tx,
        "SELECT 1 FROM checkins WHERE activity_id = ? AND occurrence = ? AND user_id = ?",
        (activity_id, to_db(occurrence), user_id),
    )
    return row is not None


async def attendance(tx: Tx, activity_id: int, occurrence: datetime) -> list[Attendance]:
    """Everyone who answered or checked in, for one occurrence."""
    occ = to_db(occurrence)
    rows = await fetch_all(
        tx,
        "SELECT u.user_id, r.answer, c.at, c.method FROM "
        "(SELECT user_id FROM rsvps WHERE activity_id = ? AND occurrence = ? "
        " UNION SELECT user_id FROM checkins WHERE activity_id = ? AND occurrence = ?) u "
        "LEFT JOIN rsvps r ON r.activity_id = ? AND r.occurrence = ? AND r.user_id = u.user_id "
        "LEFT JOIN checkins c ON c.activity_id = ? AND c.occurrence = ? AND c.user_id = u.user_id "
        "ORDER BY u.user_id",
        (activity_id, occ) * 4,
    )
    return [
        Attendance(row[0], row[1], from_db(row[2]) if row[2] else None, row[3]) for row in rows
    ]


def stream_attendance(conn: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """One row per person per occurrence of every activity, oldest activity first: the
    activity, the person's declared name, their answer and their check-in."""
    return iter(
        conn.execute(
            "WITH seen AS (SELECT activity_id, occurrence, user_id FROM rsvps "
            "UNION SELECT activity_id, occurrence, user_id FROM checkins) "
            "SELECT a.id AS activity, a.title, a.kind, s.occurrence, s.user_id AS user, "
            "d.name, r.answer, c.at AS checked_in_at, c.method FROM seen s "
            "JOIN activities a ON a.id = s.activity_id "
            "LEFT JOIN rsvps r ON r.activity_id = s.activity_id "
            "AND r.occurrence = s.occurrence AND r.user_id = s.user_id "
            "LEFT JOIN checkins c ON c.activity_id = s.activity_id "
            "AND c.occurrence = s.occurrence AND c.user_id = s.user_id "
            "LEFT JOIN declarations d ON d.user_id = s.user_id "
            "ORDER BY a.id, s.occurrence, s.user_id"
        )
    )
