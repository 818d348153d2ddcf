"""The ``nuanxin`` command: run the bot on a transport, or act on its data as an admin."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import App
from bot.config import ConfigError, Settings, load_settings
from handlers import exports
from storage import declarations
from storage.db import Database

log = logging.getLogger("nuanxin")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nuanxin", description="暖新 — a bot for riders")
    commands = parser.add_subparsers(dest="command", required=True)

    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", type=Path, help="data folder (default $NUANXIN_DATA_DIR or ./nuanxin-data)"
    )

    console = commands.add_parser(
        "console", parents=[data_dir], help="chat with the bot in this terminal"
    )
    console.add_argument("--user", default="rider", help="who is typing (default: rider)")

    export = commands.add_parser("export", help="write data to standard output")
    export.add_argument("what", choices=["members"])
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument(
        "--unmasked", action="store_true", help="show full phone numbers (handle with care)"
    )
    export.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    return parser


async def _console(settings: Settings, user: str) -> int:
    from bot.transports.console import run_console

    app = await App.open(settings)
    try:
        await run_console(app, user)
    finally:
        await app.close()
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    db = await Database.open(settings.db_path)
    try:
        async with db.transaction() as tx:
            members = await declarations.all_declarations(tx)
    finally:
        await db.close()
    rows = [exports.member_row(m, unmasked=args.unmasked) for m in members]
    if args.format == "json":
        sys.stdout.write(exports.to_json(rows))
    else:
        sys.stdout.write(exports.to_csv(rows, exports.MEMBER_COLUMNS))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(data_dir=args.data_dir)
    except ConfigError as bad:
        print(f"nuanxin: {bad}", file=sys.stderr)
        return 2
    if args.command == "console":
        return asyncio.run(_console(settings, args.user))
    return asyncio.run(_export(settings, args))
