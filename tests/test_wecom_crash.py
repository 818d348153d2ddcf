"""``nuanxin wecom`` as a process, killed with SIGKILL in the middle of a burst of callbacks;
WeCom posts again every callback it was not answered "success" for."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import aiohttp

from bot.clock import SystemClock
from tests.fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom, Member
from tests.local_server import free_port

MEMBERS = [f"m{n}" for n in range(12)]
MESSAGES = 6


async def start_bot(wecom: FakeWeCom, data: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": AGENT_ID,
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_URL": wecom.api_url,
        "NUANXIN_DATA_DIR": str(data),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "wecom",
        "--listen",
        f"127.0.0.1:{port}",
        env=env,
        cwd=data.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def until_success(member: Member, callback: str) -> None:
    """WeCom's retries: the same callback until it is answered with success."""
    while True:
        try:
            if await member.post(callback) == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)


async def test_a_killed_wecom_bot_answers_every_message_it_was_sent(tmp_path: Path) -> None:
    wecom = FakeWeCom()
    await wecom.start()
    data, port = tmp_path / "data", free_port()
    bot = await start_bot(wecom, data, port)
    members = [Member(m, f"http://127.0.0.1:{port}/wecom", SystemClock()) for m in MEMBERS]
    try:
        callbacks = [
            (member, member.xml("text", Content="/help"))
            for _ in range(MESSAGES)
            for member in members
        ]
        sending = asyncio.gather(*(until_success(m, c) for m, c in callbacks))
        await wecom.wait_for(lambda: len(wecom.sent) >= len(callbacks) // 3, within=60)
        bot.kill()
        await bot.wait()
        bot = await start_bot(wecom, data, port)
        await asyncio.wait_for(sending, 60)
        expected = len(MEMBERS) * MESSAGES
        await wecom.wait_for(lambda: len(wecom.sent) >= expected, within=60)
        await asyncio.sleep(1)
    finally:
        bot.terminate()
        await bot.wait()
        await wecom.stop()
    answered = Counter(message["touser"] for message in wecom.sent)
    for member in MEMBERS:
        assert MESSAGES <= answered[member] <= MESSAGES + 1, (member, answered[member])
