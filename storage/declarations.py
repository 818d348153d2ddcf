"""Identity declarations (亮身份、亮职责、亮承诺): one per rider, deleted on withdrawal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Declaration:
    user_id: str
    name: str
    phone: str
    platform: str
    station: str
    city: str
    district: str
    political_status: str
    party_registration: str | None
    wants_branch: bool | None
    duty: str
    pledge: str
    status: str
    consent_at: datetime
    created_at: datetime
    updated_at: datetime


_COLUMNS = ", ".join(f.name for f in fields(Declaration))
_TIMES = ("consent_at", "created_at", "updated_at")


def _from_row(row: dict[str, object]) -> Declaration:
    values = dict(row)
    for name in _TIMES:
        values[name] = from_db(str(values[name]))
    if values["wants_branch"] is not None:
        values["wants_branch"] = bool(values["wants_branch"])
    return Declaration(**values)  # type: ignore[arg-type]


async def get(tx: Tx, user_id: str) -> Declaration | None:
    row = await fetch_one(tx, f"SELECT {_COLUMNS} FROM declarations WHERE user_id = ?", (user_id,))
    return _from_row(dict(row)) if row else None


async def save(tx: Tx, declaration: Declaration) -> None:
    """Inserts or replaces; an update goes back to pending, as a secretary must see it again."""
    values = [getattr(declaration, f.name) for f in fields(Declaration)]
    values = [to_db(v) if isinstance(v, datetime) else v for v in values]
    marks = ", ".join("?" * len(values))
    updates = ", ".join(
        f"{f.name} = excluded.{f.name}"
        for f in fields(Declaration)
        if f.name not in ("user_id", "created_at")
    )
    await tx.execute(
        f"INSERT INTO declarations ({_COLUMNS}) VALUES ({marks}) "
        f"ON CONFLICT(user_id) DO UPDATE SET {updates}",
        values,
    )


async def delete(tx: Tx, user_id: str) -> bool:
    cursor = await tx.execute("DELETE FROM declarations WHERE user_id = ?", (user_id,))
    return cursor.rowcount > 0


async def names(tx: Tx, user_ids: Iterable[str]) -> dict[str, str]:
    """The declared name of each person given, in one query; anyone without a declaration is
    named by their id."""
    wanted = sorted(set(user_ids))
    rows = await fetch_all(
        tx, f"SELECT user_id, name FROM declarations WHERE user_id {IN_LIST}", (as_list(wanted),)
    )
    declared = {row["user_id"]: row["name"] for row in rows}
    return {user_id: declared.get(user_id, user_id) for user_id in wanted}


async def by_phone(tx: Tx, phone: str) -> list[str]:
    """Who declared this number (one person, unless the same number was declared twice)."""
    rows = await fetch_all(tx, "SELECT user_id FROM declarations WHERE phone = ?", (phone,))
    return [row["user_id"] for row in rows]


def stream(conn: sqlite3.Connection) -> Iterator[Declaration]:
    """Every declaration, oldest first, one at a time from a snapshot."""
    for row in conn.execute(f"SELECT {_COLUMNS} FROM declarations ORDER BY created_at"):
        yield _from_row(dict(row))


async def all_declarations(tx: Tx) -> list[Declaration]:
    rows = await fetch_all(tx, f"SELECT {_COLUMNS} FROM declarations ORDER BY created_at")
    return [_from_row(dict(row)) for row in rows]


async def review(
    tx: Tx, user_id: str, status: str, reviewer: str, note: str, now: datetime
) -> bool:
    """Verifies or rejects a pending declaration; False when it is no longer pending."""
    cursor = await tx.execute(
        "UPDATE declarations SET status = ?, reviewed_by = ?, reviewed_at = ?, review_note = ? "
        "WHERE user_id = ? AND status = 'pending'",
        (status, reviewer, to_db(now), note, user_id),
    )
    return cursor.rowcount == 1


async def pending(tx: Tx, branch_ids: frozenset[int] | None) -> list[Declaration]:
    """Declarations awaiting review, oldest first, of members of these branches (None: all)."""
    columns = ", ".join(f"d.{f.name}" for f in fields(Declaration))
    where, params = "d.status = 'pending'", []
    if branch_ids is not None:
        where += f" AND m.branch_id {IN_LIST}"
        params = [as_list(sorted(branch_ids))]
    rows = await fetch_all(
        tx,
        f"SELECT {columns} FROM declarations d LEFT JOIN memberships m ON m.user_id = d.user_id "
        f"WHERE {where} ORDER BY d.updated_at LIMIT 50",
        params,
    )
    return [_from_row(dict(row)) for row in rows]
