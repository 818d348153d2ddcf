"""Lanes of rows: a broadcast's backlog neither floods the event loop with lanes nor keeps an
answer from being read, and an answer goes ahead of its chat's bulk messages."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.transports.lanes import Lanes


@dataclass(frozen=True)
class Row:
    id: int
    chat: str
    bulk: bool


class Table:
    """Rows as the outbox keeps them: read by id and kind until they are worked."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.worked: list[Row] = []
        self.bulk_may_read = asyncio.Event()
        self.bulk_may_read.set()
        self.bulk_reading = asyncio.Event()
        self._changed = asyncio.Condition()

    def add(self, chat: str, *, bulk: bool) -> Row:
        row = Row(len(self.rows) + 1, chat, bulk)
        self.rows.append(row)
        return row

    async def record(self, row: Row) -> list[Row]:
        async with self._changed:
            self.worked.append(row)
            self._changed.notify_all()
        return [row]

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(predicate)

    def unworked(self, after: int, *, bulk: bool) -> list[Row]:
        done = {row.id for row in self.worked}
        waiting = (r for r in self.rows if r.bulk == bulk and r.id > after and r.id not in done)
        return list(waiting)[:100]

    async def read_answers(self, after: int) -> list[Row]:
        return self.unworked(after, bulk=False)

    async def read_bulk(self, after: int) -> list[Row]:
        self.bulk_reading.set()
        await self.bulk_may_read.wait()
        return self.unworked(after, bulk=True)


Work = Callable[[Row, deque[Row]], Awaitable[list[Row]]]


def lanes_over(table: Table, work: Work) -> Lanes[Row]:
    return Lanes(
        "test rows",
        table.read_answers,
        lambda row: row.id,
        lambda row: row.chat,
        work,
        later=table.read_bulk,
    )


async def test_a_large_backlog_opens_a_few_lanes_at_a_time_and_every_row_goes_in_order() -> None:
    table = Table()
    for n in range(900):
        table.add(f"rider{n % 450}", bulk=True)
    working: set[str] = set()
    most = 0

    async def work(row: Row, queue: deque[Row]) -> list[Row]:
        nonlocal most
        working.add(row.chat)
        most = max(most, len(working))
        await asyncio.sleep(0)
        working.discard(row.chat)
        return await table.record(row)

    lanes = lanes_over(table, work)
    lanes.start()
    try:
        await table.until(lambda: len(table.worked) == 900)
    finally:
        await lanes.stop()
    assert most <= Lanes.OPEN_LATER
    assert sorted(row.id for row in table.worked) == list(range(1, 901)), "each row once"
    for n in range(450):
        chat = [row.id for row in table.worked if row.chat == f"rider{n}"]
        assert chat == sorted(chat), "a chat's rows go in the order they were queued"


async def test_an_answer_opens_its_waiting_lane_at_once_ahead_of_the_chats_copies() -> None:
    table = Table()
    for n in range(Lanes.OPEN_LATER + 8):
        table.add(f"rider{n}", bulk=True)
    copies_may_go = asyncio.Event()

    async def work(row: Row, queue: deque[Row]) -> list[Row]:
        if row.bulk:
            await copies_may_go.wait()
        return await table.record(row)

    lanes = lanes_over(table, work)
    lanes.start()
    try:
        await table.bulk_reading.wait()
        last = f"rider{Lanes.OPEN_LATER + 7}"
        answer = table.add(last, bulk=False)
        lanes.wake.set()
        await table.until(lambda: answer in table.worked)
        assert all(not row.bulk for row in table.worked), "no copy went before the answer"
        copies_may_go.set()
        await table.until(lambda: len(table.worked) == len(table.rows))
    finally:
        await lanes.stop()
    assert [row.id for row in table.worked if row.chat == last] == [answer.id, answer.id - 1]


async def test_an_answer_is_read_while_the_backlogs_read_waits() -> None:
    table = Table()
    table.bulk_may_read.clear()

    async def work(row: Row, queue: deque[Row]) -> list[Row]:
        return await table.record(row)

    lanes = lanes_over(table, work)
    lanes.start()
    try:
        await table.bulk_reading.wait()
        table.add("rider1", bulk=True)
        answer = table.add("rider2", bulk=False)
        lanes.wake.set()
        await table.until(lambda: answer in table.worked)
        assert len(table.worked) == 1
        table.bulk_may_read.set()
        await table.until(lambda: len(table.worked) == 2)
    finally:
        await lanes.stop()
