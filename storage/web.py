"""The web console's sign-in links and sessions.

Only the SHA-256 of a token is kept: the token itself lives in a link or a cookie, so neither a
copy of the database nor a backup can sign anybody in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Tx, fetch_one
from storage.timefmt import to_db


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    user_id: str
    csrf: str
    lang: str


async def add_link(tx: Tx, token: str, user_id: str, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO web_links (token_hash, user_id, created_at) VALUES (?, ?, ?)",
        (digest(token), user_id, to_db(now)),
    )


async def use_link(tx: Tx, token: str, now: datetime, valid_for: timedelta) -> str | None:
    """The person a link signs in, once: a used or expired link signs in nobody."""
    row = await fetch_one(
        tx,
        "UPDATE web_links SET used_at = ? "
        "WHERE token_hash = ? AND used_at IS NULL AND created_at > ? RETURNING user_id",
        (to_db(now), digest(token), to_db(now - valid_for)),
    )
    return str(row["user_id"]) if row else None


async def open_session(
    tx: Tx, token: str, user_id: str, csrf: str, lang: str, now: datetime, lasts: timedelta
) -> None:
    await tx.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf, lang, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (digest(token), user_id, csrf, lang, to_db(now), to_db(now + lasts)),
    )


async def session(tx: Tx, token: str, now: datetime) -> Session | None:
    row = await fetch_one(
        tx,
        "SELECT user_id, csrf, lang FROM web_sessions WHERE token_hash = ? AND expires_at > ?",
        (digest(token), to_db(now)),
    )
    return Session(row["user_id"], row["csrf"], row["lang"]) if row else None


async def set_lang(tx: Tx, token: str, lang: str) -> None:
    await tx.execute(
        "UPDATE web_sessions SET lang = ? WHERE token_hash = ?", (lang, digest(token))
    )


async def end_session(tx: Tx, token: str) -> None:
    await tx.execute("DELETE FROM web_sessions WHERE token_hash = ?", (digest(token),))


async def end_sessions_of(tx: Tx, user_id: str) -> None:
    """Signs a person out everywhere (their data erased, their role taken away)."""
    await tx.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))


async def sweep(tx: Tx, now: datetime, links_last: timedelta) -> None:
    """Forgets expired sessions and links that can no longer be used."""
    await tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (to_db(now),))
    await tx.execute("DELETE FROM web_links WHERE created_at <= ?", (to_db(now - links_last),))
