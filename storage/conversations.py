"""The current step and draft of each user's conversation, so any process can resume it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.db import Tx, fetch_all, on_thread
from storage.timefmt import from_db, to_db


@dataclass
class Conversation:
    user_id: str
    flow: str
    step: str
    token: str
    started_at: datetime
    updated_at: datetime
    draft: dict[str, Any] = field(default_factory=dict)


async def get(tx: Tx, user_id: str) -> Conversation | None:
    return await on_thread(tx, get_in, user_id)


def get_in(conn: sqlite3.Connection, user_id: str) -> Conversation | None:
    """On the database thread."""
    row = conn.execute(
        "SELECT user_id, flow, step, draft, token, started_at, updated_at "
        "FROM conversations WHERE user_id = ?",
        (user_id,),
    ).fetchone()
    if row is None:
        return None
    return Conversation(
        user_id=row["user_id"],
        flow=row["flow"],
        step=row["step"],
        token=row["token"],
        started_at=from_db(row["started_at"]),
        updated_at=from_db(row["updated_at"]),
        draft=json.loads(row["draft"]),
    )


def save_in(conn: sqlite3.Connection, conv: Conversation) -> None:
    """On the database thread."""
    conn.execute(
        "INSERT INTO conversations (user_id, flow, step, draft, token, started_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
        "flow = excluded.flow, step = excluded.step, draft = excluded.draft, "
        "token = excluded.token, started_at = excluded.started_at, "
        "updated_at = excluded.updated_at",
        (
            conv.user_id,
            conv.flow,
            conv.step,
            json.dumps(conv.draft, ensure_ascii=False),
            conv.token,
            to_db(conv.started_at),
            to_db(conv.updated_at),
        ),
    )


def delete_in(conn: sqlite3.Connection, user_id: str) -> None:
    """On the database thread."""
    conn.execute("DELETE FROM conversations WHERE user_id = ?", (user_id,))


async def remove_idle(tx: Tx, before: datetime) -> list[dict[str, Any]]:
    """Deletes forms nobody touched since ``before``; returns their drafts (what files they
    held)."""
    rows = await fetch_all(
        tx,
        "DELETE FROM conversations WHERE updated_at < ? RETURNING draft",
        (to_db(before),),
    )
    return [json.loads(row["draft"]) for row in rows]
