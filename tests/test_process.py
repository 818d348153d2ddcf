"""``nuanxin`` as an operator runs it: one serving process per data directory, starts that
never crash or hang, and a backup taken while the bot runs."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli import nuanxin, run


async def console(data: Path) -> asyncio.subprocess.Process:
    """A console bot on ``data``, waiting for input (it holds the data directory)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NUANXIN_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "console",
        "--data-dir",
        str(data),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=data.parent,
        env={**environment, "PYTHONIOENCODING": "utf-8"},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"/start\n")
    await process.stdin.drain()
    await asyncio.wait_for(process.stdout.readline(), 30)
    return process


async def test_a_second_bot_on_the_same_data_exits_at_once_and_reading_still_works(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = await console(data)
    try:
        second = await asyncio.to_thread(run, "telegram", "--data-dir", str(data), cwd=tmp_path)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"nuanxin: another nuanxin process (pid {first.pid}) is serving {data}; only one may"
        ]
        third = await asyncio.to_thread(run, "console", "--data-dir", str(data), cwd=tmp_path)
        assert third.returncode == 1 and "only one may" in third.stderr
        exported = await asyncio.to_thread(
            run, "export", "members", "--format", "json", "--data-dir", str(data), cwd=tmp_path
        )
        assert exported.returncode == 0 and json.loads(exported.stdout) == []
        backup = tmp_path / "copy.db"
        copied = await asyncio.to_thread(
            run, "backup", "--out", str(backup), "--data-dir", str(data), cwd=tmp_path
        )
        assert copied.returncode == 0, copied.stderr
        with sqlite3.connect(backup) as restored:
            users = [row[0] for row in restored.execute("SELECT id FROM users")]
            assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert users == ["console:rider"]
    finally:
        assert first.stdin is not None
        first.stdin.close()
        await first.wait()
    assert run("console", "--data-dir", str(data), cwd=tmp_path, stdin="/help\n").returncode == 0


def test_bots_starting_together_on_a_new_data_directory_all_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NUANXIN_")}
    starts = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "bot", "admin", "branch", "add"),
                *("--data-dir", str(data), "--name", f"第{n}支部", "--kind", "station"),
            ],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(12)
    ]
    errors = [start.communicate(timeout=60)[1] for start in starts]
    outcomes = list(zip((start.returncode for start in starts), errors, strict=True))
    assert [code for code, _ in outcomes] == [0] * 12, [err for _, err in outcomes if err]
    assert "帮助" in nuanxin("console", "--data-dir", str(data), stdin="/help\n", cwd=tmp_path)


def test_start_up_trouble_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "nuanxin.db").write_text("this is not a database, only text " * 100)
    for data in (a_file, broken):
        for command in (["console"], ["telegram"], ["export", "members"]):
            done = run(*command, "--data-dir", str(data), cwd=tmp_path)
            assert done.returncode == 1, (command, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("nuanxin: cannot "), lines
            assert str(data) in lines[0]
