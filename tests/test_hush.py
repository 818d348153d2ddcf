"""Bulk senders wait while an answer is on its way, and never behind a hush that has lasted
its longest (answers that never pause must not stop a broadcast)."""

from __future__ import annotations

import asyncio

from bot.hush import Hush


async def test_bulk_waits_while_an_answer_is_on_its_way_and_goes_after_it() -> None:
    hush = Hush()
    hush.GRACE_S = 0
    await asyncio.wait_for(hush.quiet(), 1)
    with hush.answering():
        waiting = asyncio.create_task(hush.quiet())
        await asyncio.sleep(0)
        with hush.answering():
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiting.done(), "the outer answer is still on its way"
    await asyncio.wait_for(waiting, 1)


async def test_a_hush_that_lasted_its_longest_no_longer_holds_bulk_back() -> None:
    now = 0.0
    hush = Hush(clock=lambda: now)
    with hush.answering():
        first = asyncio.create_task(hush.quiet())
        await asyncio.sleep(0)
        assert not first.done()
        now = Hush.LONGEST_S
        await asyncio.wait_for(hush.quiet(), 0.1)
        first.cancel()
