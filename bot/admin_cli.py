"""``nuanxin admin …``: branches, the audit log, statistics, roster comparison and a person's
requests about their data, from the server's shell. Every change goes through the same rules
as the chat commands and is audited under ``cli:<login>``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.clock import SystemClock
from bot.config import Settings
from bot.i18n import DEFAULT_LANG, Refusal, catalog
from bot.qr import render_qr
from bot.transports.wechat import contact_url
from bot.transports.wecom_api import WeComClient, WeComError
from handlers import exports, organisation, personal_data, roster, stats, tables
from handlers import stations as stations_flow
from handlers.organisation import KINDS
from handlers.phone import normalize_mobile
from handlers.steps import InvalidInput
from storage import audit, branches, declarations, kf, personal
from storage.branches import NewBranch
from storage.db import Database, Tx, read_snapshot

Command = Callable[[Tx, argparse.Namespace, Settings], Awaitable[int]]


def cli_actor() -> str:
    """Who acted from the command line, for the audit log."""
    return f"cli:{getpass.getuser()}"


def kind_labels() -> dict[str, str]:
    return {kind: catalog().t(DEFAULT_LANG, f"branch.kind.{kind}") for kind in KINDS}


def add_parser(commands: Any, data_dir: argparse.ArgumentParser) -> None:
    admin = commands.add_parser(
        "admin", help="branches, audit log, statistics, roster check, a person's data"
    )
    sub = admin.add_subparsers(dest="admin_command", required=True)

    branch = sub.add_parser("branch", help="create, list, edit, import branches; QR codes")
    actions = branch.add_subparsers(dest="branch_command", required=True)
    add = actions.add_parser("add", parents=[data_dir], help="create a branch")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, help=" | ".join(KINDS))
    add.add_argument("--district", default="")
    add.add_argument("--parent", default="", metavar="CODE")
    add.add_argument("--code", default="", help="join code (default: generated)")
    add.add_argument("--secretary", action="append", default=[], metavar="USER")
    listing = actions.add_parser("list", parents=[data_dir], help="every branch")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    edit = actions.add_parser("edit", parents=[data_dir], help="change a branch")
    edit.add_argument("code")
    for field in organisation.EDITABLE:
        edit.add_argument(f"--{field}")
    edit.add_argument("--add-secretary", action="append", default=[], metavar="USER")
    edit.add_argument("--remove-secretary", action="append", default=[], metavar="USER")
    imported = actions.add_parser("import", parents=[data_dir], help="add or update from CSV")
    imported.add_argument("file", type=Path, help=", ".join(organisation.IMPORT_COLUMNS))
    qr = actions.add_parser("qr", parents=[data_dir], help="the join QR code as a PNG")
    qr.add_argument("code")
    qr.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    qr.add_argument(
        "--wechat",
        action="store_true",
        help="the poster for WeChat (the 微信客服 account's link) instead of Telegram's",
    )

    station = sub.add_parser("stations", help="warm stations")
    station_actions = station.add_subparsers(dest="stations_command", required=True)
    load = station_actions.add_parser(
        "import", parents=[data_dir], help="add stations from CSV or XLSX, reporting bad rows"
    )
    load.add_argument("file", type=Path, help=", ".join(stations_flow.COLUMNS) + "[, datum]")
    load.add_argument(
        "--datum",
        choices=["wgs84", "gcj02"],
        default="wgs84",
        help="the datum of rows without a datum column (gcj02: Chinese map apps)",
    )

    admins = sub.add_parser("admins", help="appoint, dismiss and list admins")
    admin_actions = admins.add_subparsers(dest="admins_command", required=True)
    for verb, helped in (("add", "appoint an admin"), ("remove", "dismiss an admin")):
        person = admin_actions.add_parser(verb, parents=[data_dir], help=helped)
        person.add_argument("user", metavar="USER", help="platform:id, like wecom:zhangsan")
    admin_actions.add_parser("list", parents=[data_dir], help="admins appointed in the bot")

    log = sub.add_parser("audit", parents=[data_dir], help="who did what, newest last")
    log.add_argument("--format", choices=["table", "json"], default="table")
    log.add_argument("--limit", type=int, default=200)

    figures = sub.add_parser("stats", parents=[data_dir], help="census and handling figures")
    figures.add_argument("--format", choices=["table", "json"], default="table")

    erase = sub.add_parser(
        "erase", parents=[data_dir], help="delete everything kept about a person, on request"
    )
    erase.add_argument("user", metavar="USER", help=PERSON_HELP)
    copy = sub.add_parser(
        "subject-export",
        parents=[data_dir],
        help="a copy of everything kept about a person (JSON), on request",
    )
    copy.add_argument("user", metavar="USER", help=PERSON_HELP)
    copy.add_argument("--out", type=Path, help="write the JSON here instead of stdout")

    compare = sub.add_parser(
        "compare", parents=[data_dir], help="a platform roster against the declarations"
    )
    compare.add_argument("roster", type=Path, metavar="ROSTER.csv|xlsx")
    compare.add_argument("--out", type=Path, help="write the CSV here instead of stdout")


PERSON_HELP = "platform:id, like telegram:12345, or the mobile number they declared"
ABOUT_WHAT_IS_THERE = frozenset(
    {"branch_list", "audit", "stats", "compare", "admins_list", "erase", "subject-export"}
)
"""Commands about data already kept: without a database they say so instead of making one."""


def command_name(args: argparse.Namespace) -> str:
    name = str(args.admin_command)
    for group in ("branch", "stations", "admins"):
        if name == group:
            name = f"{group}_{getattr(args, f'{group}_command')}"
    return name


def needs_data(args: argparse.Namespace) -> bool:
    return command_name(args) in ABOUT_WHAT_IS_THERE


def run(settings: Settings, args: argparse.Namespace) -> int:
    name = command_name(args)
    return asyncio.run(_in_transaction(settings, args, COMMANDS[name], forgets=name == "erase"))


async def _in_transaction(
    settings: Settings, args: argparse.Namespace, command: Command, *, forgets: bool
) -> int:
    """Runs the command in one transaction; one that deleted personal data also empties the
    database's write-ahead log, so no earlier copy of it stays on disk."""
    db = await Database.open(settings.db_path)
    try:
        async with db.transaction() as tx:
            code = await command(tx, args, settings)
        if forgets:
            await db.empty_log()
        return code
    except Refusal as bad:
        complain(catalog().explain(SPOKEN[0], bad))
        return 2
    except BrokenPipeError:
        raise
    except OSError as bad:
        complain(say("cli.file_error", file=bad.filename or "", why=bad.strerror or bad))
        return 2
    finally:
        await db.close()


SPOKEN = [DEFAULT_LANG]
"""The language the command line speaks: ``NUANXIN_LANG``, set once the settings are read
(never the shell's locale, so a script reads the same words on every machine)."""


def speak(lang: str) -> None:
    SPOKEN[0] = lang


def say(key: str, /, **params: object) -> str:
    return catalog().t(SPOKEN[0], key, **params)


def complain(text: str) -> None:
    """A refusal or a remark, on standard error, so standard output stays the data."""
    print(f"nuanxin: {text}", file=sys.stderr)


def said_read(path: Path, encoding: str) -> None:
    """Which encoding a table was read in, on standard error, so a wrong guess shows."""
    complain(say("cli.read_as", file=path.name, encoding=encoding))


async def branch_add(tx: Tx, args: argparse.Namespace, settings: Settings) -> int:
    now = SystemClock().now()
    new = NewBranch(
        code=args.code,
        name=args.name,
        kind=organisation.kind_of(args.kind, kind_labels()),
        district=args.district,
        parent_id=await organisation.parent_by_code(tx, args.parent),
    )
    branch = await organisation.add_branch(tx, cli_actor(), new, now)
    for user_id in args.secretary:
        await organisation.appoint(tx, cli_actor(), branch.code, user_id, now)
        await organisation.tell_appointed(tx, catalog(), settings, user_id, branch, now)
    print(branch.code)
    return 0


async def branch_list(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    every = await branches.all_branches(tx)
    codes = {b.id: b.code for b in every}
    staffing = await branches.staffing(tx)
    nobody = branches.Staffing()
    rows = [
        {
            "code": b.code,
            "name": b.name,
            "kind": b.kind,
            "district": b.district,
            "parent": codes.get(b.parent_id or 0, ""),
            "secretaries": list(staffing.get(b.id, nobody).secretaries),
            "members": staffing.get(b.id, nobody).members,
        }
        for b in every
    ]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        print("\t".join(_flat(row[column]) for column in row))
    return 0


def _flat(value: object) -> str:
    if isinstance(value, list):
        return ",".join(value) or "-"
    return str(value)


async def branch_edit(tx: Tx, args: argparse.Namespace, settings: Settings) -> int:
    now, actor = SystemClock().now(), cli_actor()
    for field in organisation.EDITABLE:
        value = getattr(args, field)
        if value is not None:
            await organisation.edit_branch(tx, actor, args.code, field, value, kind_labels(), now)
    for user_id in args.add_secretary:
        branch = await organisation.appoint(tx, actor, args.code, user_id, now)
        await organisation.tell_appointed(tx, catalog(), settings, user_id, branch, now)
    for user_id in args.remove_secretary:
        await organisation.dismiss(tx, actor, args.code, user_id, now)
    print(args.code.upper())
    return 0


async def branch_import(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    raw = await asyncio.to_thread(args.file.read_bytes)
    text, encoding = tables.decode(raw, args.file.name)
    said_read(args.file, encoding)
    added, updated = await organisation.import_csv(
        tx, cli_actor(), text, kind_labels(), SystemClock().now()
    )
    print(say("cli.branches_imported", added=added, updated=updated))
    return 0


async def branch_qr(tx: Tx, args: argparse.Namespace, settings: Settings) -> int:
    branch = await organisation.existing(tx, args.code)
    if args.wechat:
        contact = await wechat_contact_url(tx, settings)
        if not contact:
            return 2
        link: str | None = organisation.wechat_join_link(contact, branch.code)
    else:
        link = organisation.join_link(settings, branch.code)
    if link is None:
        complain(say("cli.needs_bot_username"))
        return 2
    await asyncio.to_thread(render_qr, link, args.out)
    print(link)
    return 0


async def wechat_contact_url(tx: Tx, settings: Settings) -> str:
    """The customer-service account's link, kept by the bot, or asked of WeCom now."""
    if contact := await kf.contact_url(tx):
        return contact
    if not (settings.wecom_corp_id and settings.wecom_kf_secret):
        complain(say("cli.needs_kf_secret"))
        return ""
    client = WeComClient(
        settings.wecom_api_url, settings.wecom_corp_id, settings.wecom_kf_secret.value, ""
    )
    try:
        account, contact = await contact_url(client, settings.wecom_kf_open_kfid)
    except (WeComError, aiohttp.ClientError, TimeoutError) as bad:
        complain(say("cli.kf_no_link", why=bad))
        return ""
    finally:
        await client.close()
    await kf.set_contact_url(tx, account, contact)
    return contact


ADMIN_CHANGES = {
    "add": (organisation.appoint_admin, "branch.you_are_admin", "branch.admin_appointed"),
    "remove": (organisation.dismiss_admin, "branch.no_longer_admin", "branch.admin_dismissed"),
}


async def admins_change(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    """Appoints or dismisses an admin, audited, and tells them in chat."""
    change, told, said = ADMIN_CHANGES[args.admins_command]
    now = SystemClock().now()
    await change(tx, cli_actor(), args.user, now)
    await organisation.tell(tx, catalog(), args.user, told, now)
    print(say(said, user=args.user))
    return 0


async def admins_list(tx: Tx, _: argparse.Namespace, __: Settings) -> int:
    for user_id in sorted(await branches.appointed_admins(tx)):
        print(user_id)
    return 0


async def audit_log(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    entries = await audit.entries(tx, args.limit)
    rows = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in entries
    ]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            print("\t".join(row.values()))
    return 0


async def stats_figures(_: Tx, args: argparse.Namespace, settings: Settings) -> int:
    figures = await read_snapshot(settings.db_path, stats.gather)
    if args.format == "json":
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    for section, values in figures.items():
        for name, value in values.items():
            print(f"{section}.{name}\t{json.dumps(value, ensure_ascii=False)}")
    return 0


async def compare_roster(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    people, encoding = await asyncio.to_thread(roster.read, args.roster)
    said_read(args.roster, encoding)
    result = await roster.compare(tx, people)
    if args.out:
        with args.out.open("wb") as out:
            exports.write(out, result, roster.COLUMNS, "csv", "compare")
    else:
        sys.stdout.flush()
        exports.write(sys.stdout.buffer, result, roster.COLUMNS, "csv", "compare", bom=False)
        sys.stdout.buffer.flush()
    counts: dict[str, int] = {}
    for row in result:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    for outcome, count in sorted(counts.items()):
        complain(say("cli.compared", outcome=say(f"roster.outcome.{outcome}"), count=count))
    return 0


async def stations_import(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    table, encoding = await asyncio.to_thread(stations_flow.read_rows, args.file)
    said_read(args.file, encoding)
    added, refused = await stations_flow.import_rows(
        tx, cli_actor(), table, args.datum, SystemClock().now()
    )
    print(say("cli.stations_imported", added=added, refused=len(refused)))
    for number, why in refused:
        print(say("cli.row_refused", row=number, why=why))
    return 0


async def person(tx: Tx, who: str) -> str:
    """The user a request names: a user id as it is, or the mobile number they declared."""
    if ":" in who:
        if not await personal.about(tx, who):
            raise Refusal("cli.person_unknown", who=who)
        return who
    try:
        phone = normalize_mobile(who)
    except InvalidInput:
        raise Refusal("cli.person_unknown", who=who) from None
    found = await declarations.by_phone(tx, phone)
    if not found:
        raise Refusal("cli.person_unknown", who=who)
    if len(found) > 1:
        raise Refusal("cli.phone_ambiguous", phone=phone, users=", ".join(found))
    return found[0]


async def erase_person(tx: Tx, args: argparse.Namespace, settings: Settings) -> int:
    user_id = await person(tx, args.user)
    erased = await personal_data.erase_person(
        tx, catalog(), settings, user_id, cli_actor(), SystemClock().now()
    )
    print(say("cli.erased", user=user_id, reports=erased.reports, waiting=erased.waiting))
    return 0


async def subject_export(tx: Tx, args: argparse.Namespace, _: Settings) -> int:
    user_id = await person(tx, args.user)
    now = SystemClock().now()
    data = await personal_data.subject_export(tx, user_id, now)
    await audit.record(tx, cli_actor(), "subject_export", user_id, now)
    if args.out:
        await asyncio.to_thread(args.out.write_bytes, data)
    else:
        sys.stdout.buffer.write(data + b"\n")
    return 0


COMMANDS: dict[str, Command] = {
    "branch_add": branch_add,
    "branch_list": branch_list,
    "branch_edit": branch_edit,
    "branch_import": branch_import,
    "branch_qr": branch_qr,
    "admins_add": admins_change,
    "admins_remove": admins_change,
    "admins_list": admins_list,
    "audit": audit_log,
    "stats": stats_figures,
    "compare": compare_roster,
    "stations_import": stations_import,
    "erase": erase_person,
    "subject-export": subject_export,
}
