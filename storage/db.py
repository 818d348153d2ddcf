"""The SQLite connection: explicit PRAGMAs, one writer, migrations at open."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import aiosqlite

from storage.checkpoints import Checkpoints
from storage.migrations import MIGRATIONS
from storage.priority_lock import PriorityLock

Tx = aiosqlite.Connection

STORAGE_FAILURES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_NOTADB,
    }
)
"""SQLite's primary result codes that speak of the disk or the file, not of our SQL."""


T = TypeVar("T")

IN_LIST = "IN (SELECT value FROM json_each(?))"
"""A list of values bound as one parameter (see :func:`as_list`): the statement stays the
same, and within SQLite's limit of variables, however long the list."""


def as_list(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def in_snapshot(path: Path, work: Callable[[sqlite3.Connection], T]) -> T:
    """Runs ``work`` on a connection of its own, inside one read transaction: a consistent
    view however long it takes, while the writer goes on."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN")
        return work(conn)
    finally:
        conn.close()


async def read_snapshot(path: Path, work: Callable[[sqlite3.Connection], T]) -> T:
    """:func:`in_snapshot` in a worker thread, so the event loop stays free (statistics)."""
    return await asyncio.to_thread(in_snapshot, path, work)


def is_storage_failure(error: BaseException) -> bool:
    """A write failed because of where the data lives (a full disk, an unwritable or broken
    file), so the same write can succeed later; a mistake in SQL or a broken constraint
    cannot."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.Error) or code is None:
        return False
    return code & 0xFF in STORAGE_FAILURES


class StorageUnavailable(RuntimeError):
    """The data directory or the database cannot be opened; the message says which and why."""


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


async def on_thread(tx: Tx, work: Callable[..., T], *args: Any) -> T:
    """Runs ``work(connection, *args)`` on the database thread, every statement of it in one
    trip (the way aiosqlite runs its own methods): what needs several statements waits for
    the event loop once, not once per statement, and the writer's lock is held that much
    shorter."""
    return cast(T, await tx._execute(work, tx._conn, *args))  # type: ignore[no-untyped-call]


def _begin(conn: sqlite3.Connection, opening: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        return opening(conn)
    except BaseException:
        conn.rollback()
        raise


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _commit(conn: sqlite3.Connection, last: list[Callable[[sqlite3.Connection], None]]) -> None:
    for work in last:
        work(conn)
    conn.commit()


def _locked(path: Path) -> IO[str]:
    """Opens ``path`` (made if missing) and waits for an exclusive lock on it, held until the
    file is closed; the system lets go of it when the process dies, however it dies."""
    handle = path.open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


class Database:
    """Wraps one connection; every write goes through :meth:`transaction`.

    The lock keeps this process to one writer at a time, riders' work first (work that can
    wait runs in :func:`storage.priority_lock.yielding`); ``BEGIN IMMEDIATE`` with a
    busy timeout does the same between processes, so a command-line process writing beside
    the bot waits instead of failing.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = PriorityLock()
        self.path = path
        self.failures = 0
        """Writes that failed for the storage's sake since the last one that succeeded."""
        self.committed_at = float("-inf")
        """When (``time.monotonic()``) a write last succeeded."""
        self.on_failure: Callable[[int], None] | None = None
        """Told the count of such failures in a row each time one more happens."""
        self._last: list[Callable[[sqlite3.Connection], None]] = []
        self._checkpoints = Checkpoints(path, lambda: self.committed_at)
        self.held_s = 0.0
        """Seconds transactions have held the writer's lock: what one process can write is
        bounded by it, however many cores it has (``bench/telegram_throughput.py``)."""

    @classmethod
    async def open(cls, path: Path, *, target_version: int | None = None) -> Database:
        """Opens (and migrates) the database; any trouble is one :class:`StorageUnavailable`
        naming the file, and leaves no thread behind that would keep the process alive."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as bad:
            raise StorageUnavailable(f"cannot open {path}: {_reason(bad)}") from None
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA busy_timeout=10000")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
            # deleted rows are overwritten, not left in free space: erasure must erase
            await conn.execute("PRAGMA secure_delete=ON")
            db = cls(conn, path)
            await db._set_up(target_version)
            await conn.execute("PRAGMA wal_autocheckpoint=0")
        except (OSError, sqlite3.Error) as bad:
            await conn.close()
            raise StorageUnavailable(f"cannot use {path}: {_reason(bad)}") from None
        except BaseException:
            await conn.close()
            raise
        db._checkpoints.start()
        return db

    async def close(self) -> None:
        await self._checkpoints.stop()
        await self._conn.close()

    async def schema_version(self) -> int:
        row = await fetch_one(self._conn, "PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _set_up(self, target_version: int | None) -> None:
        """Switches the file to WAL and applies each pending migration with its version bump
        in one transaction.

        Processes starting at the same moment take turns on a lock file beside the database:
        SQLite answers "locked" at once, without waiting, to a switch of journal mode that
        meets another, and a migration must be read as pending by one process only
        (``executescript`` commits whatever is open, so the version cannot be read inside the
        migration's own transaction).
        """
        target = len(MIGRATIONS) if target_version is None else target_version
        async with self._lock:
            if await self._journal_mode() == "wal" and await self.schema_version() >= target:
                return
            lock = self.path.with_name(self.path.name + ".setting-up")
            with await asyncio.to_thread(_locked, lock):
                await self._conn.execute("PRAGMA journal_mode=WAL")
                current = await self.schema_version()
                for number in range(current + 1, target + 1):
                    await self._apply(number, MIGRATIONS[number - 1])

    async def _journal_mode(self) -> str:
        row = await fetch_one(self._conn, "PRAGMA journal_mode")
        return str(row[0]).lower() if row else ""

    async def _apply(self, number: int, script: str) -> None:
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
        async with self.transaction_from(_nothing) as (tx, _):
            yield tx

    @asynccontextmanager
    async def transaction_from(
        self, opening: Callable[[sqlite3.Connection], T]
    ) -> AsyncIterator[tuple[Tx, T]]:
        """A transaction whose first statements, ``opening``, go with its ``BEGIN`` in one trip
        to the database thread; yields the connection and what ``opening`` returned."""
        async with self._lock:
            taken = time.perf_counter()
            try:
                first = await on_thread(self._conn, _begin, opening)
                try:
                    yield self._conn, first
                    await on_thread(self._conn, _commit, self._last)
                except BaseException:
                    await self._conn.rollback()
                    raise
            except sqlite3.Error as error:
                self._count(error)
                raise
            finally:
                self._last = []
                self.held_s += time.perf_counter() - taken
            self.failures = 0
            self.committed_at = time.monotonic()

    def at_commit(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Statements that end the open transaction: they go with its COMMIT, in one trip.
        Only for writes nothing in the transaction reads back."""
        self._last.append(work)

    def _count(self, error: sqlite3.Error) -> None:
        if not is_storage_failure(error):
            return
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure(self.failures)

    async def read_snapshot(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await read_snapshot(self.path, work)

    async def watch(self, seen: Callable[[str], None] | None) -> None:
        """Calls ``seen`` with each statement as run (values filled in), or stops; for
        checking which queries the bot's work runs and how SQLite plans them."""
        await self._conn.set_trace_callback(seen)  # type: ignore[arg-type]  # None stops it

    async def empty_log(self) -> None:
        """Copies the write-ahead log into the file and truncates it, so that personal data
        just deleted (and overwritten) leaves no earlier copy in the log. A reader in another
        process can keep it from finishing; a later checkpoint then overwrites the log."""
        async with self._lock, self._checkpoints.lock:
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """For lookups: waits its turn after the writer (one connection sees a transaction's
        uncommitted rows) but opens no transaction, so a one-query lookup is one trip to the
        database thread instead of three."""
        async with self._lock:
            taken = time.perf_counter()
            try:
                yield self._conn
            finally:
                self.held_s += time.perf_counter() - taken

    async def backup(self, target: Path) -> None:
        """A consistent copy of the whole database, made with SQLite's online backup while
        others go on writing: pages changed meanwhile are copied again."""

        def copy() -> None:
            partial = target.with_name(target.name + ".part")
            partial.unlink(missing_ok=True)
            source = sqlite3.connect(self.path)
            try:
                with contextlib.closing(sqlite3.connect(partial)) as copy_to:
                    source.backup(copy_to, pages=1024)
            finally:
                source.close()
            partial.replace(target)

        await asyncio.to_thread(copy)

    async def schema(self) -> list[tuple[str, str]]:
        """The schema as (name, sql) pairs, for checking migrations converge."""
        rows = await fetch_all(
            self._conn,
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
        )
        return [(row[0], row[1]) for row in rows]


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)
