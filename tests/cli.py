"""Runs the real ``nuanxin`` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.fake_telegram import TOKEN, FakeTelegram


def run(
    *args: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``nuanxin ARGS`` to its end, whatever its exit code."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NUANXIN_")}
    environment.update({"PYTHONIOENCODING": "utf-8", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=environment,
        timeout=60,
        check=False,
    )


def nuanxin(*args: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None) -> str:
    """``nuanxin ARGS``, which must succeed; its standard output."""
    done = run(*args, stdin=stdin, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def start_telegram(
    server: FakeTelegram, data: Path, webhook_port: int | None = None, admins: str = ""
) -> asyncio.subprocess.Process:
    """``nuanxin telegram`` on the local Bot API server: long polling, or a webhook on
    ``webhook_port`` that the server posts updates to."""
    env = {
        **os.environ,
        "NUANXIN_ADMINS": admins,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": server.api_url,
        "TELEGRAM_FILE_URL": server.file_url,
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
        "NUANXIN_DATA_DIR": str(data),
    }
    receiving: list[str] = []
    if webhook_port is not None:
        server.webhook_host = f"http://127.0.0.1:{webhook_port}"
        receiving = [
            "--webhook",
            "https://bot.example.org/tg",
            "--listen",
            f"127.0.0.1:{webhook_port}",
        ]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "telegram",
        *receiving,
        env=env,
        cwd=data.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def blocks(output: str) -> list[tuple[str, str]]:
    """Splits console output into (recipient, body) blocks."""
    found: list[tuple[str, str]] = []
    for chunk in output.split("== to ")[1:]:
        head, _, body = chunk.partition(" ==\n")
        found.append((head, body))
    return found
