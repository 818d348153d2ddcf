"""WeChat customer-service accounts (WeCom 微信客服): where each account's message pull stands.

A callback only says "there is something to pull" (with a short-lived token); it is kept here
before it is answered, and the pull that follows stores the cursor in the transaction that
stores the messages it covers, so a restart resumes exactly where the last stored batch ended.
``asked`` counts callbacks, ``pulled`` the callbacks whose pull has finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, fetch_all, fetch_one
from storage.timefmt import from_db, to_db


@dataclass(frozen=True)
class Account:
    open_kfid: str
    cursor: str
    token: str
    token_until: datetime | None
    asked: int


async def ask(tx: Tx, open_kfid: str, token: str, token_until: datetime) -> None:
    """A callback asked for a pull. While an earlier ask is unfinished its token is kept: it
    is the one that starts where the unpulled messages start."""
    await tx.execute(
        "INSERT INTO kf_accounts (open_kfid, token, token_until, asked) VALUES (?, ?, ?, 1) "
        "ON CONFLICT(open_kfid) DO UPDATE SET "
        "token = CASE WHEN asked > pulled THEN token ELSE excluded.token END, "
        "token_until = CASE WHEN asked > pulled THEN token_until ELSE excluded.token_until END, "
        "asked = asked + 1",
        (open_kfid, token, to_db(token_until)),
    )


async def due(tx: Tx) -> list[Account]:
    """Accounts with a pull asked for and not finished."""
    rows = await fetch_all(
        tx,
        "SELECT open_kfid, cursor, token, token_until, asked FROM kf_accounts "
        "WHERE asked > pulled ORDER BY open_kfid",
    )
    return [
        Account(
            row["open_kfid"],
            row["cursor"],
            row["token"],
            from_db(row["token_until"]) if row["token_until"] else None,
            row["asked"],
        )
        for row in rows
    ]


async def advance(tx: Tx, open_kfid: str, cursor: str, finished: int | None) -> None:
    """Stores the cursor after a batch; ``finished``: the ``asked`` count the pull started
    with, once nothing more is to be had (asks that came meanwhile stay due)."""
    await tx.execute(
        "UPDATE kf_accounts SET cursor = ?, pulled = max(pulled, coalesce(?, pulled)) "
        "WHERE open_kfid = ?",
        (cursor, finished, open_kfid),
    )


async def forget_token(tx: Tx, open_kfid: str) -> None:
    """The platform said the token is no good: the cursor is used instead."""
    await tx.execute(
        "UPDATE kf_accounts SET token = '', token_until = NULL WHERE open_kfid = ?", (open_kfid,)
    )


async def contact_url(tx: Tx) -> str:
    """The link that opens a chat with the bot's account ("" until it was asked for)."""
    row = await fetch_one(
        tx, "SELECT contact_url FROM kf_accounts WHERE contact_url != '' ORDER BY open_kfid"
    )
    return str(row[0]) if row else ""


async def set_contact_url(tx: Tx, open_kfid: str, url: str) -> None:
    await tx.execute(
        "INSERT INTO kf_accounts (open_kfid, contact_url) VALUES (?, ?) "
        "ON CONFLICT(open_kfid) DO UPDATE SET contact_url = excluded.contact_url",
        (open_kfid, url),
    )
