"""Everything kept about one person: a copy for them, and deletion that leaves nothing behind
(PIPL arts. 45 and 47).

A person is named in two ways: by their user id in the columns listed in ``HELD_BY``, and by
their name and phone number inside free text (messages, notes, descriptions). Withdrawing a
declaration forgets the second kind and the declaration itself; erasure forgets both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, fetch_all
from storage.reports import OPEN_STATUSES
from storage.timefmt import to_db

HELD_BY: tuple[tuple[str, str], ...] = (
    ("users", "id"),
    ("declarations", "user_id"),
    ("memberships", "user_id"),
    ("secretaries", "user_id"),
    ("admins", "user_id"),
    ("conversations", "user_id"),
    ("reports", "reporter"),
    ("report_reporters", "user_id"),
    ("report_photos", "added_by"),
    ("report_history", "actor"),
    ("points", "user_id"),
    ("rsvps", "user_id"),
    ("checkins", "user_id"),
    ("checkin_tries", "user_id"),
    ("station_feedback", "user_id"),
    ("send_windows", "recipient"),
    ("outbox", "recipient"),
    ("audit_log", "actor"),
    ("audit_log", "target"),
    ("erasures", "user_id"),
    ("web_links", "user_id"),
    ("web_sessions", "user_id"),
    ("owed_work", "user_id"),
)
"""Every column that names a person by their user id."""

FREE_TEXT: tuple[tuple[str, str, str], ...] = (
    ("outbox", "payload", "broadcast_id IS NULL"),
    ("conversations", "draft", "1"),
    ("audit_log", "detail", "1"),
    ("report_history", "note", "1"),
    ("reports", "description", "1"),
    ("reports", "rating_comment", "1"),
    ("station_feedback", "text", "1"),
)
"""Where a person's name or number may have been typed or quoted: (table, column, which
rows). Broadcasts are staff's words to everyone, never a rider's details."""

ERASED_ALONG = (
    "declarations",
    "memberships",
    "secretaries",
    "admins",
    "conversations",
    "points",
    "rsvps",
    "checkins",
    "checkin_tries",
    "station_feedback",
    "send_windows",
    "web_links",
    "web_sessions",
    "owed_work",
)
"""Tables whose rows of the person go entirely when they ask for erasure."""


async def about(tx: Tx, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row that names the person, table by table (messages with their text decoded)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table, column in HELD_BY:
        rows = await fetch_all(tx, f"SELECT * FROM {table} WHERE {column} = ?", (user_id,))
        kept = found.setdefault(table, [])
        for row in rows:
            record = dict(row)
            for packed in ("payload", "draft"):
                if isinstance(record.get(packed), str):
                    record[packed] = json.loads(record[packed])
            if record not in kept:
                kept.append(record)
    return {table: rows for table, rows in found.items() if rows}


def _spellings(needle: str) -> set[str]:
    """The needle as free text holds it, and as JSON holds it (escaped or not)."""
    return {
        needle,
        json.dumps(needle)[1:-1],
        json.dumps(needle, ensure_ascii=False)[1:-1],
    }


async def redact(tx: Tx, needles: Sequence[str], mark: str) -> int:
    """Replaces each needle (a name, a phone number) wherever free text holds it; the mark
    is plain text, safe inside a JSON string."""
    changed = 0
    for needle in needles:
        if len(needle.strip()) < 2:
            continue
        for spelling in _spellings(needle):
            for table, column, rows in FREE_TEXT:
                cursor = await tx.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) "
                    f"WHERE {rows} AND instr({column}, ?) > 0",
                    (spelling, mark, spelling),
                )
                changed += cursor.rowcount
    return changed


async def forget_declaration(tx: Tx, user_id: str, withdrawn_card: str, now: datetime) -> None:
    """Withdrawal: the declaration, the branch memberships it led to, the messages that
    showed it to the person (their summary, their badge) and to staff (review cards, which
    keep only ``withdrawn_card``); items filed stay, their reporter shown as withdrawn."""
    await tx.execute("DELETE FROM declarations WHERE user_id = ?", (user_id,))
    await tx.execute("DELETE FROM memberships WHERE user_id = ?", (user_id,))
    await tx.execute("UPDATE users SET withdrawn_at = ? WHERE id = ?", (to_db(now), user_id))
    await tx.execute(
        "DELETE FROM outbox WHERE recipient = ? AND card_of IS NULL AND broadcast_id IS NULL "
        "AND (sent_at IS NOT NULL OR about IS NULL)",
        (user_id,),
    )
    await tx.execute("DELETE FROM outbox WHERE subject = ? AND sent_at IS NULL", (user_id,))
    await tx.execute(
        "UPDATE outbox SET payload = ?, has_buttons = 0 WHERE subject = ?",
        (withdrawn_card, user_id),
    )


async def withdrew(tx: Tx, user_id: str) -> bool:
    """Did the person withdraw their declaration (rather than never declare)?"""
    rows = await fetch_all(
        tx, "SELECT 1 FROM users WHERE id = ? AND withdrawn_at IS NOT NULL", (user_id,)
    )
    return bool(rows)


@dataclass(frozen=True)
class Erased:
    reports: int
    """Items deleted with the person: closed, and nobody else's."""
    waiting: int
    """Open items of theirs, deleted once closed."""
    files: tuple[str, ...]
    """Photos and voice notes no item holds any more (their sha256), to delete from disk."""


async def ask_erasure(tx: Tx, user_id: str, asked_by: str, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO erasures (user_id, asked_at, asked_by) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO NOTHING",
        (user_id, to_db(now), asked_by),
    )


async def waiting_erasures(tx: Tx) -> list[str]:
    rows = await fetch_all(tx, "SELECT user_id FROM erasures ORDER BY asked_at")
    return [row["user_id"] for row in rows]


async def erase(tx: Tx, user_id: str) -> Erased:
    """Deletes what the person's erasure allows now: everything but open items they filed or
    joined. A closed item others also reported stays theirs; one only the person reported
    goes, with its photos and history. The request stays until no open item is left."""
    mine = await fetch_all(
        tx,
        "SELECT r.id, r.status, r.reporter, r.voice FROM reports r WHERE r.reporter = ? "
        "OR r.id IN (SELECT report_id FROM report_reporters WHERE user_id = ?)",
        (user_id, user_id),
    )
    waiting = sum(1 for row in mine if row["status"] in OPEN_STATUSES)
    closed = [row for row in mine if row["status"] not in OPEN_STATUSES]
    gone: list[int] = []
    files: list[str] = []
    for row in closed:
        others = await fetch_all(
            tx,
            "SELECT user_id FROM report_reporters WHERE report_id = ? AND user_id != ? "
            "ORDER BY joined_at",
            (row["id"], user_id),
        )
        if others:
            heir = others[0]["user_id"]
            await tx.execute(
                "DELETE FROM report_reporters WHERE report_id = ? AND user_id = ?",
                (row["id"], user_id),
            )
            await tx.execute(
                "UPDATE reports SET reporter = ? WHERE id = ? AND reporter = ?",
                (heir, row["id"], user_id),
            )
            await tx.execute(
                "UPDATE report_photos SET added_by = ? WHERE report_id = ? AND added_by = ?",
                (heir, row["id"], user_id),
            )
            continue
        gone.append(row["id"])
        photos = await fetch_all(
            tx, "SELECT sha256 FROM report_photos WHERE report_id = ?", (row["id"],)
        )
        files.extend(photo["sha256"] for photo in photos)
        if row["voice"]:
            files.append(row["voice"])
        await tx.execute("DELETE FROM points WHERE report_id = ?", (row["id"],))
        await tx.execute("DELETE FROM reports WHERE id = ?", (row["id"],))
    for table in ERASED_ALONG:
        column = dict(HELD_BY)[table]
        await tx.execute(f"DELETE FROM {table} WHERE {column} = ?", (user_id,))
    await tx.execute("DELETE FROM outbox WHERE recipient = ? OR subject = ?", (user_id, user_id))
    if not waiting:
        await tx.execute("DELETE FROM erasures WHERE user_id = ?", (user_id,))
        await tx.execute("DELETE FROM users WHERE id = ?", (user_id,))
    still_held = await files_in_use(tx, files)
    return Erased(len(gone), waiting, tuple(sha for sha in files if sha not in still_held))


async def files_in_use(tx: Tx, shas: Sequence[str], besides: str = "") -> set[str]:
    """Which of these stored files an item or a form in progress still holds; the form of
    ``besides`` is not looked at (its user's event knows what it holds now)."""
    held: set[str] = set()
    for sha in set(shas):
        rows = await fetch_all(
            tx,
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM report_photos WHERE sha256 = ?) "
            "OR EXISTS (SELECT 1 FROM reports WHERE voice = ?) "
            "OR EXISTS (SELECT 1 FROM conversations WHERE instr(draft, ?) > 0 "
            "AND user_id != ?)",
            (sha, sha, sha, besides),
        )
        if rows:
            held.add(sha)
    return held
