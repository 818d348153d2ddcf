"""The ``nuanxin`` command: run the bot on a transport, or act on its data as an admin."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot import admin_cli
from bot.admin_cli import cli_actor
from bot.app import App
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.i18n import catalog
from bot.serving import StartError, claim
from handlers import exports
from storage import audit
from storage.db import Database, StorageUnavailable

log = logging.getLogger("nuanxin")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nuanxin", description="暖新 — a bot for riders")
    commands = parser.add_subparsers(dest="command", required=True)

    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", type=Path, help="data folder (default $NUANXIN_DATA_DIR or ./nuanxin-data)"
    )
    web = argparse.ArgumentParser(add_help=False)
    web.add_argument(
        "--web",
        metavar="HOST:PORT",
        help="also serve the web console here (links use $NUANXIN_WEB_URL, else this address)",
    )

    console = commands.add_parser(
        "console", parents=[data_dir, web], help="chat with the bot in this terminal"
    )
    console.add_argument("--user", default="rider", help="who is typing (default: rider)")

    telegram = commands.add_parser(
        "telegram",
        parents=[data_dir, web],
        help="run the bot on Telegram (long polling by default)",
    )
    telegram.add_argument("--webhook", metavar="URL", help="serve a webhook at this public URL")
    telegram.add_argument(
        "--listen", metavar="HOST:PORT", default="0.0.0.0:8443", help="where the webhook listens"
    )
    telegram.add_argument(
        "--health",
        metavar="HOST:PORT",
        help="serve GET /healthz here while long polling (a webhook's server has it anyway)",
    )

    wecom = commands.add_parser(
        "wecom", parents=[data_dir, web], help="run the bot as a WeCom app (callback server)"
    )
    wecom.add_argument(
        "--listen", metavar="HOST:PORT", default="0.0.0.0:8080", help="where the callback listens"
    )

    export = commands.add_parser("export", help="write data to standard output")
    export.add_argument("what", choices=exports.WHAT)
    export.add_argument(
        "--format",
        choices=exports.FORMATS,
        default="csv",
        help="open311: a GeoReport v2 service-request list (hazards only)",
    )
    export.add_argument("--out", type=Path, help="write to this file instead of standard output")
    export.add_argument(
        "--unmasked", action="store_true", help="show full phone numbers (handle with care)"
    )
    export.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)

    backup = commands.add_parser(
        "backup",
        parents=[data_dir],
        help="copy the database consistently, also while the bot runs (media/ is copied apart)",
    )
    backup.add_argument("--out", type=Path, required=True, help="the copy to write")
    admin_cli.add_parser(commands, data_dir)
    return parser


async def _console(settings: Settings, user: str, web: str | None) -> int:
    from bot.transports.console import run_console
    from bot.web.server import serve_console

    with claim(settings.data_dir):
        app = await App.open(settings)
        try:
            console = await serve_console(app, web) if web else None
            catching_up = asyncio.create_task(app.catch_up())
            try:
                await run_console(app, user)
            finally:
                catching_up.cancel()
                if console is not None:
                    await console.stop()
        finally:
            await app.close()
    return 0


async def _backup(settings: Settings, out: Path) -> int:
    db = await Database.open(settings.db_path)
    try:
        await db.backup(out)
    except (OSError, sqlite3.Error) as bad:
        admin_cli.complain(admin_cli.say("cli.backup_failed", out=out, why=bad))
        return 1
    finally:
        await db.close()
    admin_cli.complain(admin_cli.say("cli.backed_up", db=settings.db_path, out=out))
    return 0


def _telegram(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transports.telegram import TelegramStartError, run_telegram

    try:
        asyncio.run(run_telegram(settings, args.webhook, args.listen, args.health, args.web))
    except TelegramStartError as bad:
        print(f"nuanxin: {bad}", file=sys.stderr)
        return 1
    return 0


def _wecom(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transports.wecom import WeComStartError, run_wecom

    try:
        asyncio.run(run_wecom(settings, args.listen, args.web))
    except WeComStartError as bad:
        print(f"nuanxin: {bad}", file=sys.stderr)
        return 1
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    if args.format == "open311" and args.what != "hazards":
        admin_cli.complain(admin_cli.say("cli.open311_hazards_only"))
        return 2

    def made(conn: sqlite3.Connection) -> None:
        if args.out is None:
            exports.export(
                sys.stdout.buffer,
                conn,
                args.what,
                args.format,
                catalog(),
                unmasked=args.unmasked,
                bom=False,
            )
            sys.stdout.buffer.flush()
            return
        with args.out.open("wb") as out:
            exports.export(out, conn, args.what, args.format, catalog(), unmasked=args.unmasked)

    db = await Database.open(settings.db_path)
    try:
        if args.unmasked:
            async with db.transaction() as tx:
                await audit.record(
                    tx, cli_actor(), "export_unmasked", args.what, SystemClock().now()
                )
        await db.read_snapshot(made)
    finally:
        await db.close()
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
    admin_cli.speak(settings.cli_lang)
    if getattr(args, "web", None) and not settings.web_url:
        settings = replace(settings, web_url=web_url_of(args.web))
    no_folder = not settings.data_dir.exists()
    if (
        needs_data(args)
        and (no_folder or settings.data_dir.is_dir())
        and not settings.db_path.exists()
    ):
        admin_cli.complain(admin_cli.say("cli.no_database", folder=settings.data_dir))
        return 2
    try:
        code = _run(settings, args)
        sys.stdout.flush()
        return code
    except (StartError, StorageUnavailable) as bad:
        print(f"nuanxin: {bad}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        quiet_stdout()
        return 0


def web_url_of(listen: str) -> str:
    """The console's address for links when ``NUANXIN_WEB_URL`` is not set: right on this
    machine, or for a tunnel or proxy to stand in front of."""
    host, _, port = listen.rpartition(":")
    return f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{port}"


def needs_data(args: argparse.Namespace) -> bool:
    """Commands about the data already kept: pointed at a folder without a database, they
    say so instead of making an empty one."""
    if args.command in ("export", "backup"):
        return True
    return args.command == "admin" and admin_cli.needs_data(args)


def quiet_stdout() -> None:
    """The reader went away (``| head``): what is left unwritten goes nowhere, quietly, as
    Python's documentation recommends, instead of a traceback at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "backup":
        return asyncio.run(_backup(settings, args.out))
    if args.command == "console":
        return asyncio.run(_console(settings, args.user, args.web))
    if args.command == "telegram":
        return _telegram(settings, args)
    if args.command == "admin":
        return admin_cli.run(settings, args)
    if args.command == "wecom":
        return _wecom(settings, args)
    return asyncio.run(_export(settings, args))
