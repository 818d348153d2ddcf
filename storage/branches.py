"""Branches (流动党员党支部) and the organisations above them, their secretaries and members.

One table holds the whole tree: a branch riders join has a join code and a parent; the
parents (an industry party committee, a district) are rows of the same table, so escalation
is a walk up ``parent_id``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all, fetch_one, on_thread
from storage.timefmt import to_db


@dataclass(frozen=True)
class Branch:
    id: int
    code: str
    name: str
    kind: str
    district: str
    parent_id: int | None
    robot_webhook: str = ""


@dataclass(frozen=True)
class NewBranch:
    code: str
    name: str
    kind: str
    district: str = ""
    parent_id: int | None = None


_COLUMNS = "id, code, name, kind, district, parent_id, robot_webhook"


def _branch(row: object) -> Branch:
    return Branch(**dict(row))  # type: ignore[call-overload]


async def create(tx: Tx, new: NewBranch, now: datetime) -> Branch:
    cursor = await tx.execute(
        "INSERT INTO branches (code, name, kind, district, parent_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (new.code, new.name, new.kind, new.district, new.parent_id, to_db(now)),
    )
    assert cursor.lastrowid is not None
    branch = await get(tx, cursor.lastrowid)
    assert branch is not None
    return branch


async def update(tx: Tx, branch: Branch) -> None:
    await tx.execute(
        "UPDATE branches SET name = ?, kind = ?, district = ?, parent_id = ?, robot_webhook = ? "
        "WHERE id = ?",
        (
            branch.name,
            branch.kind,
            branch.district,
            branch.parent_id,
            branch.robot_webhook,
            branch.id,
        ),
    )


async def get(tx: Tx, branch_id: int) -> Branch | None:
    row = await fetch_one(tx, f"SELECT {_COLUMNS} FROM branches WHERE id = ?", (branch_id,))
    return _branch(row) if row else None


async def by_code(tx: Tx, code: str) -> Branch | None:
    row = await fetch_one(
        tx, f"SELECT {_COLUMNS} FROM branches WHERE code = ? COLLATE NOCASE", (code.strip(),)
    )
    return _branch(row) if row else None


async def all_branches(tx: Tx) -> list[Branch]:
    rows = await fetch_all(tx, f"SELECT {_COLUMNS} FROM branches ORDER BY code")
    return [_branch(row) for row in rows]


async def in_district(tx: Tx, district: str, station: str) -> list[Branch]:
    """Branches a declared member may want: their station's first, then their district's."""
    rows = await fetch_all(
        tx,
        f"SELECT {_COLUMNS} FROM branches WHERE (district = ? AND district != '') "
        "OR (name LIKE '%' || ? || '%' AND ? != '') "
        "ORDER BY (name LIKE '%' || ? || '%') DESC, code LIMIT 6",
        (district, station, station, station),
    )
    return [_branch(row) for row in rows]


async def ancestors(tx: Tx, branch_id: int) -> list[Branch]:
    """The organisations above a branch, nearest first."""
    rows = await fetch_all(
        tx,
        "WITH RECURSIVE up(id, depth) AS ("
        " SELECT parent_id, 1 FROM branches WHERE id = ? AND parent_id IS NOT NULL"
        " UNION ALL SELECT b.parent_id, up.depth + 1 FROM branches b JOIN up ON b.id = up.id"
        " WHERE b.parent_id IS NOT NULL AND up.depth < 20)"
        f" SELECT {', '.join('b.' + c for c in _COLUMNS.split(', '))}"
        " FROM up JOIN branches b ON b.id = up.id ORDER BY up.depth",
        (branch_id,),
    )
    return [_branch(row) for row in rows]


async def appoint(tx: Tx, branch_id: int, user_id: str, by: str, now: datetime) -> bool:
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO secretaries (branch_id, user_id, appointed_by, appointed_at) "
        "VALUES (?, ?, ?, ?)",
        (branch_id, user_id, by, to_db(now)),
    )
    return cursor.rowcount == 1


async def dismiss(tx: Tx, branch_id: int, user_id: str) -> bool:
    cursor = await tx.execute(
        "DELETE FROM secretaries WHERE branch_id = ? AND user_id = ?", (branch_id, user_id)
    )
    return cursor.rowcount == 1


async def secretaries(tx: Tx, branch_id: int) -> list[str]:
    rows = await fetch_all(
        tx,
        "SELECT user_id FROM secretaries WHERE branch_id = ? ORDER BY appointed_at, user_id",
        (branch_id,),
    )
    return [row["user_id"] for row in rows]


@dataclass(frozen=True)
class Staffing:
    secretaries: tuple[str, ...] = ()
    members: int = 0


async def staffing(tx: Tx) -> dict[int, Staffing]:
    """Every branch's secretaries and head count, in two queries for any number of branches
    (a listing of a city's branches asked twice per branch before)."""
    secretaries: dict[int, list[str]] = {}
    for row in await fetch_all(
        tx, "SELECT branch_id, user_id FROM secretaries ORDER BY appointed_at, user_id"
    ):
        secretaries.setdefault(row["branch_id"], []).append(row["user_id"])
    counts = {
        row[0]: row[1]
        for row in await fetch_all(
            tx, "SELECT branch_id, COUNT(*) FROM memberships GROUP BY branch_id"
        )
    }
    return {
        branch_id: Staffing(tuple(secretaries.get(branch_id, ())), counts.get(branch_id, 0))
        for branch_id in secretaries.keys() | counts.keys()
    }


async def with_descendants(tx: Tx, branch_id: int) -> frozenset[int]:
    """A branch and every branch below it."""
    rows = await fetch_all(
        tx,
        "WITH RECURSIVE below(id) AS ("
        " SELECT ? UNION SELECT b.id FROM branches b JOIN below ON b.parent_id = below.id)"
        " SELECT id FROM below",
        (branch_id,),
    )
    return frozenset(row["id"] for row in rows)


async def run_by(tx: Tx, user_id: str) -> frozenset[int]:
    """The branches this user is secretary of, and every branch below them: a committee's
    secretary oversees its branches."""
    return (await authority(tx, user_id)).runs


async def all_secretaries(tx: Tx) -> frozenset[str]:
    rows = await fetch_all(tx, "SELECT DISTINCT user_id FROM secretaries")
    return frozenset(row["user_id"] for row in rows)


async def add_admin(tx: Tx, user_id: str, by: str, now: datetime) -> bool:
    cursor = await tx.execute(
        "INSERT OR IGNORE INTO admins (user_id, appointed_by, appointed_at) VALUES (?, ?, ?)",
        (user_id, by, to_db(now)),
    )
    return cursor.rowcount == 1


@dataclass(frozen=True)
class Authority:
    appointed_admin: bool
    runs: frozenset[int]
    """The branches this user is secretary of, and every branch below them."""


def authority_in(conn: sqlite3.Connection, user_id: str) -> Authority:
    """The branches the user oversees and whether they were appointed admin, in one query:
    every event needs both. On the database thread."""
    rows = conn.execute(
        "WITH RECURSIVE below(id) AS ("
        " SELECT branch_id FROM secretaries WHERE user_id = ?"
        " UNION SELECT b.id FROM branches b JOIN below ON b.parent_id = below.id)"
        " SELECT id FROM below UNION ALL SELECT NULL FROM admins WHERE user_id = ?",
        (user_id, user_id),
    ).fetchall()
    runs = frozenset(row["id"] for row in rows if row["id"] is not None)
    return Authority(appointed_admin=len(runs) < len(rows), runs=runs)


async def authority(tx: Tx, user_id: str) -> Authority:
    return await on_thread(tx, authority_in, user_id)


async def remove_admin(tx: Tx, user_id: str) -> bool:
    cursor = await tx.execute("DELETE FROM admins WHERE user_id = ?", (user_id,))
    return cursor.rowcount == 1


async def appointed_admins(tx: Tx) -> frozenset[str]:
    rows = await fetch_all(tx, "SELECT user_id FROM admins")
    return frozenset(row["user_id"] for row in rows)


async def join(tx: Tx, user_id: str, branch_id: int, now: datetime) -> None:
    """A rider belongs to one branch; joining another moves them."""
    await tx.execute(
        "INSERT INTO memberships (user_id, branch_id, joined_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET branch_id = excluded.branch_id, "
        "joined_at = excluded.joined_at",
        (user_id, branch_id, to_db(now)),
    )


async def membership(tx: Tx, user_id: str) -> Branch | None:
    row = await fetch_one(
        tx,
        f"SELECT {', '.join('b.' + c for c in _COLUMNS.split(', '))} FROM memberships m "
        "JOIN branches b ON b.id = m.branch_id WHERE m.user_id = ?",
        (user_id,),
    )
    return _branch(row) if row else None
