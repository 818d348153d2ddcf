"""The database: migrations converge, and the file is set up for one writer at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.events import Reply
from handlers.handling import BRANCH_GROUP
from storage import outbox, users
from storage.db import Database
from storage.migrations import MIGRATIONS
from storage.timefmt import to_db


async def test_fresh_and_step_by_step_databases_end_with_the_same_schema(tmp_path: Path) -> None:
    fresh = await Database.open(tmp_path / "fresh.db")
    fresh_schema = await fresh.schema()
    assert await fresh.schema_version() == len(MIGRATIONS)
    await fresh.close()

    path = tmp_path / "stepped.db"
    for version in range(1, len(MIGRATIONS) + 1):
        stepped = await Database.open(path, target_version=version)
        assert await stepped.schema_version() == version
        await stepped.close()
    stepped = await Database.open(path)
    assert await stepped.schema() == fresh_schema
    await stepped.close()


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    for _ in range(2):
        db = await Database.open(tmp_path / "x.db")
        assert await db.schema_version() == len(MIGRATIONS)
        await db.close()


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "x.db")
    try:
        async with db.transaction() as tx:
            await users.touch(tx, "console:x", datetime.now(UTC))
            assert await users.get(tx, "console:x") is not None
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.transaction() as tx:
        assert await users.get(tx, "console:x") is None
    async with db.transaction() as tx, tx.execute("PRAGMA journal_mode") as cursor:
        mode = await cursor.fetchone()
    assert mode is not None and mode[0] == "wal"
    await db.close()


async def test_group_robot_messages_queued_before_the_upgrade_still_go_out(
    tmp_path: Path,
) -> None:
    """Version 10 renamed the recipients of a branch's group messages; an unsent one keeps
    its place in the queue."""
    path = tmp_path / "x.db"
    old = await Database.open(path, target_version=9)
    try:
        async with old.transaction() as tx:
            await tx.execute(
                "INSERT INTO outbox (recipient, payload, created_at) VALUES (?, ?, ?)",
                ("wecomrobot:3", Reply(text="提醒").to_json(), to_db(datetime.now(UTC))),
            )
    finally:
        await old.close()
    db = await Database.open(path)
    async with db.reading() as tx:
        queued = await outbox.unsent(tx, BRANCH_GROUP)
    await db.close()
    assert [(m.recipient, m.reply.text) for m in queued] == [("group:3", "提醒")]


async def test_connections_opening_a_new_database_at_once_each_migrate_it_once(
    tmp_path: Path,
) -> None:
    """What bots starting at the same moment do; each connection waits on its own thread."""
    opened = await asyncio.gather(*(Database.open(tmp_path / "x.db") for _ in range(8)))
    try:
        assert {await db.schema_version() for db in opened} == {len(MIGRATIONS)}
    finally:
        for db in opened:
            await db.close()
