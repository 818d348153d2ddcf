"""Users: anyone who ever wrote to the bot, on any platform, with their language."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one, on_thread
from storage.timefmt import to_db


@dataclass(frozen=True)
class User:
    id: str
    lang: str


def touch_in(conn: sqlite3.Connection, user_id: str, now: datetime) -> User:
    """Returns the user, creating them on first contact. On the database thread."""
    stamp = to_db(now)
    row = conn.execute(
        "INSERT INTO users (id, created_at, last_seen_at) VALUES (?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
        "unreachable_at = NULL RETURNING id, lang",
        (user_id, stamp, stamp),
    ).fetchone()
    return User(id=row["id"], lang=row["lang"])


async def touch(tx: Tx, user_id: str, now: datetime) -> User:
    return await on_thread(tx, touch_in, user_id, now)


async def get(tx: Tx, user_id: str) -> User | None:
    row = await fetch_one(tx, "SELECT id, lang FROM users WHERE id = ?", (user_id,))
    return User(id=row["id"], lang=row["lang"]) if row else None


async def set_lang(tx: Tx, user_id: str, lang: str) -> None:
    await tx.execute("UPDATE users SET lang = ? WHERE id = ?", (lang, user_id))


async def langs_of(tx: Tx, user_ids: list[str]) -> dict[str, str]:
    """Languages of several recipients at once, for pushes to people other than the sender."""
    if not user_ids:
        return {}
    rows = await fetch_all(
        tx, f"SELECT id, lang FROM users WHERE id {IN_LIST}", (as_list(user_ids),)
    )
    return {row["id"]: row["lang"] for row in rows}


async def lang_of(tx: Tx, user_id: str) -> str:
    return (await langs_of(tx, [user_id])).get(user_id, "zh")


async def mark_unreachable(tx: Tx, user_id: str, now: datetime) -> None:
    """The platform refused to deliver to this user (they blocked the bot)."""
    await tx.execute("UPDATE users SET unreachable_at = ? WHERE id = ?", (to_db(now), user_id))
