"""Riders' turns at the database go ahead of work that can wait, which still moves."""

from __future__ import annotations

import asyncio

from storage.priority_lock import PriorityLock, yielding


async def _turn(lock: PriorityLock, name: str, order: list[str], *, yields: bool) -> None:
    if yields:
        with yielding():
            async with lock:
                order.append(name)
    else:
        async with lock:
            order.append(name)


async def _queue(lock: PriorityLock, names: list[tuple[str, bool]]) -> list[str]:
    """Holds the lock while the named turns queue up in this order, then lets them go."""
    order: list[str] = []
    async with lock:
        tasks = []
        for name, yields in names:
            tasks.append(asyncio.create_task(_turn(lock, name, order, yields=yields)))
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return order


async def test_a_riders_turn_goes_ahead_of_bulk_work_that_asked_first() -> None:
    order = await _queue(
        PriorityLock(), [("bulk read", True), ("bulk marks", True), ("rider", False)]
    )
    assert order == ["rider", "bulk read", "bulk marks"]


async def test_bulk_work_is_passed_over_only_so_many_times_in_a_row() -> None:
    lock = PriorityLock()
    riders = [(f"rider {n}", False) for n in range(PriorityLock.PASSED_OVER + 3)]
    order = await _queue(lock, [("bulk", True), *riders])
    assert order.index("bulk") == PriorityLock.PASSED_OVER


async def test_a_turn_given_to_a_cancelled_waiter_goes_to_the_next() -> None:
    lock = PriorityLock()
    order: list[str] = []
    async with lock:
        cancelled = asyncio.create_task(_turn(lock, "gone", order, yields=False))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(_turn(lock, "next", order, yields=True))
        await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, waiting, return_exceptions=True)
    assert order == ["next"]
    async with asyncio.timeout(1):
        async with lock:
            order.append("free again")
    assert order == ["next", "free again"]
