"""The SQLite connection: explicit PRAGMAs, one writer, migrations at open."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS

Tx = aiosqlite.Connection


async def fetch_all(tx: Tx, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
    """Runs a query and reads its rows in one trip to the database thread.

    A cursor costs a trip to execute, one to fetch and one to close, and each trip waits for
    the thread to take the GIL from the event loop; on a busy bot those waits, not SQLite,
    are the cost of a query.
    """
    return list(await tx.execute_fetchall(sql, params))


async def fetch_one(tx: Tx, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
    """The first row of a query that returns at most a few, in one trip."""
    return next(iter(await fetch_all(tx, sql, params)), None)


class Database:
    """Wraps one connection; every write goes through :meth:`transaction`.

    The asyncio lock keeps this process to one writer at a time; ``BEGIN IMMEDIATE`` with a
    busy timeout does the same between processes, so a second bot process on the same file
    waits instead of failing.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, target_version: int | None = None) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        db = cls(conn)
        await db.migrate(target_version)
        return db

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        row = await fetch_one(self._conn, "PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, target_version: int | None = None) -> None:
        """Applies each pending migration with its version bump in one transaction."""
        target = len(MIGRATIONS) if target_version is None else target_version
        async with self._lock:
            current = await self.schema_version()
            for number in range(current + 1, target + 1):
                script = MIGRATIONS[number - 1]
                try:
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                    )
                except sqlite3.Error:
                    if self._conn.in_transaction:
                        await self._conn.rollback()
                    raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """For lookups: waits its turn after the writer (one connection sees a transaction's
        uncommitted rows) but opens no transaction, so a one-query lookup is one trip to the
        database thread instead of three."""
        async with self._lock:
            yield self._conn

    async def schema(self) -> list[tuple[str, str]]:
        """The schema as (name, sql) pairs, for checking migrations converge."""
        rows = await fetch_all(
            self._conn,
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
        )
        return [(row[0], row[1]) for row in rows]
