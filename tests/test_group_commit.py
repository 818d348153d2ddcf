"""Sent messages are marked in shared commits; one bad mark fails only its own sender."""

from __future__ import annotations

import asyncio

import pytest

from bot.group_commit import GroupCommit


async def test_records_arriving_during_a_commit_go_together_in_the_next() -> None:
    commits: list[list[int]] = []
    gate = asyncio.Event()

    async def write(records: list[int]) -> None:
        commits.append(records)
        if len(commits) == 1:
            await gate.wait()

    group = GroupCommit(write)
    first = asyncio.create_task(group.add(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.add(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert not first.done()
    gate.set()
    await asyncio.gather(first, *rest)
    assert commits == [[1], [2, 3, 4]]


async def test_one_bad_record_fails_only_its_caller() -> None:
    written: list[int] = []

    async def write(records: list[int]) -> None:
        if 13 in records:
            raise ValueError("bad record")
        written.extend(records)

    group = GroupCommit(write)
    results = await asyncio.gather(
        *(group.add(n) for n in (11, 12, 13, 14)), return_exceptions=True
    )
    assert [type(r) for r in results] == [type(None)] * 2 + [ValueError, type(None)]
    assert sorted(written) == [11, 12, 14]
    await group.add(15)
    assert written[-1] == 15


async def test_flush_waits_for_what_was_added() -> None:
    written: list[int] = []

    async def write(records: list[int]) -> None:
        await asyncio.sleep(0)
        written.extend(records)

    group = GroupCommit(write)
    pending = asyncio.create_task(group.add(1))
    await asyncio.sleep(0)
    await group.flush()
    assert written == [1]
    await pending
    with pytest.raises(ZeroDivisionError):
        await GroupCommit(_divide_by_zero).add(0)


async def _divide_by_zero(records: list[int]) -> None:
    raise ZeroDivisionError(records)


async def test_spaced_commits_take_together_what_arrives_between_them() -> None:
    commits: list[list[int]] = []
    pauses: list[float] = []
    paused, resume = asyncio.Event(), asyncio.Event()

    async def write(records: list[int]) -> None:
        commits.append(records)

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        paused.set()
        await resume.wait()

    group = GroupCommit(write, spacing=5.0, pause=pause)
    await group.add(1)
    rest = [asyncio.create_task(group.add(n)) for n in (2, 3, 4)]
    await paused.wait()
    assert commits == [[1]]
    assert 4.9 < pauses[0] <= 5.0
    resume.set()
    await asyncio.gather(*rest)
    assert commits == [[1], [2, 3, 4]]
