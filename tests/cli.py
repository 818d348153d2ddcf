"""Runs the real ``nuanxin`` command in a subprocess, as a user or a script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def nuanxin(*args: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "NUANXIN_DATA_DIR"}
    environment.update({"PYTHONIOENCODING": "utf-8", **(env or {})})
    done = subprocess.run(
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
    assert done.returncode == 0, done.stderr
    return done.stdout


def blocks(output: str) -> list[tuple[str, str]]:
    """Splits console output into (recipient, body) blocks."""
    found: list[tuple[str, str]] = []
    for chunk in output.split("== to ")[1:]:
        head, _, body = chunk.partition(" ==\n")
        found.append((head, body))
    return found
