"""Exports for admins: plain rows that the CSV, JSON and XLSX writers share, gathered the same
way for the command line and for a document sent in chat.

Rows are read one at a time from a snapshot in a worker thread and written as they come, so
a million items take as little memory as ten and nobody waits while they are written."""

from __future__ import annotations

import asyncio
import csv
import ctypes
import io
import json
import multiprocessing
import os
import secrets
import signal
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from bot import i18n
from bot.clock import CHINA
from bot.events import Reply
from bot.i18n import Catalog
from handlers.context import Afterwards, Context, rows
from handlers.phone import mask
from storage import activities, audit, declarations, reports
from storage.db import Database, in_snapshot
from storage.declarations import Declaration
from storage.reports import Report
from storage.timefmt import from_db, to_db

WHAT = ("members", "hazards", "grievances", "attendance")
FORMATS = ("csv", "json", "open311", "xlsx")

MEMBER_COLUMNS = (
    "name",
    "phone",
    "platform",
    "station",
    "city",
    "district",
    "political_status",
    "party_registration",
    "wants_branch",
    "duty",
    "pledge",
    "status",
    "declared_at",
    "updated_at",
)


def member_row(declaration: Declaration, *, unmasked: bool) -> dict[str, Any]:
    return {
        "name": declaration.name,
        "phone": declaration.phone if unmasked else mask(declaration.phone),
        "platform": declaration.platform,
        "station": declaration.station,
        "city": declaration.city,
        "district": declaration.district,
        "political_status": declaration.political_status,
        "party_registration": declaration.party_registration,
        "wants_branch": declaration.wants_branch,
        "duty": declaration.duty,
        "pledge": declaration.pledge,
        "status": declaration.status,
        "declared_at": to_db(declaration.created_at),
        "updated_at": to_db(declaration.updated_at),
    }


REPORT_COLUMNS = (
    "ref",
    "kind",
    "category",
    "subcategory",
    "status",
    "description",
    "voice",
    "photos",
    "reporters",
    "reporter",
    "latitude",
    "longitude",
    "address",
    "location_source",
    "branch_id",
    "reopened",
    "rating",
    "rating_comment",
    "created_at",
    "updated_at",
)


def report_row(report: Report, *, photos: int, reporters: int) -> dict[str, Any]:
    """An anonymous grievance leaves the reporter out: exports leave the handling chain."""
    return {
        "ref": report.ref,
        "kind": report.kind,
        "category": report.category,
        "subcategory": report.subcategory,
        "status": report.status,
        "description": report.description,
        "voice": f"voice/{report.voice[:2]}/{report.voice}" if report.voice else None,
        "photos": photos,
        "reporters": reporters,
        "reporter": None if report.anonymous else report.reporter,
        "latitude": report.latitude,
        "longitude": report.longitude,
        "address": report.address,
        "location_source": report.location_source,
        "branch_id": report.branch_id,
        "reopened": report.reopened,
        "rating": report.rating,
        "rating_comment": report.rating_comment,
        "created_at": to_db(report.created_at),
        "updated_at": to_db(report.updated_at),
    }


OPEN311_COLUMNS = (
    "service_request_id",
    "status",
    "service_code",
    "service_name",
    "description",
    "lat",
    "long",
    "address_string",
    "requested_datetime",
    "updated_datetime",
)
OPEN311_CLOSED = frozenset({"resolved", "closed", "rejected", "duplicate"})


def open311_row(report: Report, catalog: Catalog) -> dict[str, Any]:
    """A GeoReport v2 service request: no personal field at all."""
    return {
        "service_request_id": report.ref,
        "status": "closed" if report.status in OPEN311_CLOSED else "open",
        "service_code": report.category,
        # Category labels start with an emoji signpost for riders; services want the words.
        "service_name": catalog.t("zh", f"{report.kind}.cat.{report.category}").split(maxsplit=1)[
            -1
        ],
        "description": report.description,
        "lat": report.latitude,
        "long": report.longitude,
        "address_string": report.address,
        "requested_datetime": report.created_at.astimezone(CHINA).isoformat(),
        "updated_datetime": report.updated_at.astimezone(CHINA).isoformat(),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet take a cell of text for a formula (OWASP's CSV injection list)."""


def inert(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula gets a leading apostrophe, as OWASP
    recommends for CSV; numbers and everything else stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write(
    out: BinaryIO,
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    sheet: str,
    *,
    bom: bool = True,
) -> None:
    """Writes rows as they come: CSV (UTF-8, with a byte-order mark for a file, so Excel on
    Chinese Windows reads it; none in a pipe), JSON (a list) or XLSX (one sheet, streamed);
    blocking."""
    if fmt == "xlsx":
        _write_xlsx(out, rows, columns, sheet)
        return
    marked = fmt == "csv" and bom
    text = io.TextIOWrapper(out, encoding="utf-8-sig" if marked else "utf-8", newline="")
    try:
        if fmt == "csv":
            _write_csv(text, rows, columns)
        else:
            _write_json(text, rows)
        text.flush()
    finally:
        text.detach()


def _write_csv(text: TextIO, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else inert(v) for k, v in row.items()})


def _write_json(text: TextIO, rows: Iterable[dict[str, Any]]) -> None:
    """The same text as ``json.dumps(list(rows), indent=2)``, written a row at a time."""
    text.write("[")
    for number, row in enumerate(rows):
        item = json.dumps(row, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        text.write(f"{',' if number else ''}\n  {item}")
    text.write("\n]\n")


def _write_xlsx(
    out: BinaryIO, rows: Iterable[dict[str, Any]], columns: Sequence[str], sheet: str
) -> None:
    """Written row by row (openpyxl's write-only mode, strings inline), with the header
    frozen in view. Every text is a string cell: a name typed as ``=HYPERLINK(…)`` is shown,
    never run."""
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet)
    page.freeze_panes = "A2"
    page.append(list(columns))
    for row in rows:
        page.append([_cell(page, row.get(column)) for column in columns])
    book.save(out)


def _cell(page: Any, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        cell = WriteOnlyCell(page, value=value)
        cell.data_type = "s"
        return cell
    return value


def columns_of(what: str, fmt: str) -> Sequence[str]:
    if fmt == "open311":
        return OPEN311_COLUMNS
    return {"members": MEMBER_COLUMNS, "attendance": ATTENDANCE_COLUMNS}.get(what, REPORT_COLUMNS)


def export_rows(
    conn: sqlite3.Connection, what: str, fmt: str, catalog: Catalog, *, unmasked: bool
) -> Iterator[dict[str, Any]]:
    """The export's rows, one at a time from a snapshot."""
    if what == "members":
        for declaration in declarations.stream(conn):
            yield member_row(declaration, unmasked=unmasked)
    elif what == "attendance":
        for person in activities.stream_attendance(conn):
            yield attendance_row(person)
    elif fmt == "open311":
        for report, _, _ in reports.stream(conn, what.removesuffix("s")):
            yield open311_row(report, catalog)
    else:
        for report, photos, reporters in reports.stream(conn, what.removesuffix("s")):
            yield report_row(report, photos=photos, reporters=reporters)


def export(
    out: BinaryIO,
    conn: sqlite3.Connection,
    what: str,
    fmt: str,
    catalog: Catalog,
    *,
    unmasked: bool,
    bom: bool = True,
) -> None:
    """The whole export from one snapshot to ``out``; run it with ``read_snapshot``."""
    chosen = export_rows(conn, what, fmt, catalog, unmasked=unmasked)
    written = "json" if fmt == "open311" else fmt
    write(out, chosen, columns_of(what, fmt), written, what, bom=bom)


ATTENDANCE_COLUMNS = (
    "activity",
    "title",
    "kind",
    "occurrence",
    "user",
    "name",
    "answer",
    "checked_in_at",
    "method",
)


def attendance_row(person: sqlite3.Row) -> dict[str, Any]:
    """Who said they would come to one occurrence, and who came."""
    row = {column: person[column] for column in ATTENDANCE_COLUMNS}
    row["occurrence"] = from_db(person["occurrence"]).astimezone(CHINA).isoformat()
    return row


async def export_command(ctx: Context, arguments: str) -> None:
    """``/export members|hazards|grievances|attendance [xlsx|csv|json] [unmasked]``, sent as
    a document; bare ``/export`` offers buttons. Full phone numbers are given only when asked
    for, and the asking is audited. The file is written from a snapshot after this event's
    transaction, so riders go on being answered while it is made."""
    words = arguments.replace(":", " ").split()
    what = next((w for w in words if w in WHAT), None)
    if what is None:
        buttons = [ctx.menu_button(f"export.{name}", "export", name, "xlsx") for name in WHAT]
        await ctx.reply(ctx.t("export.pick"), rows(buttons, 1))
        return
    fmt = next((w for w in words if w in ("xlsx", "csv", "json")), "xlsx")
    unmasked = "unmasked" in words
    await audit.record(
        ctx.tx, ctx.actor, "export_unmasked" if unmasked else "export", what, ctx.now, fmt
    )
    await ctx.say("export.preparing", what=ctx.t(f"export.{what}"))
    name = f"{what}-{ctx.now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.{fmt}"
    target = ctx.settings.data_dir / "exports" / name
    await ctx.leave_for_after("export", target=str(target), what=what, fmt=fmt, unmasked=unmasked)


async def send_export(later: Afterwards, order: dict[str, Any]) -> None:
    """Writes the file (again, after a crash: from scratch) and sends it."""
    target, what = Path(order["target"]), order["what"]
    await write_file(later.db, target, what, order["fmt"], unmasked=order["unmasked"])
    text = later.t("export.ready", what=later.t(f"export.{what}"))
    await later.answer(Reply(text=text, document=str(target)))


async def write_file(db: Database, target: Path, what: str, fmt: str, *, unmasked: bool) -> None:
    """Writes an export from one snapshot in a process of its own: a million rows made into
    cells hold Python's interpreter lock for as long as they take, and in a thread of the
    bot that would be time taken from every rider's answer. The process's memory is its own
    too, and gone with it."""
    pool = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with,
        initargs=(os.getpid(),),
    )
    try:
        await asyncio.get_running_loop().run_in_executor(
            pool, write_in_snapshot, db.path, target, what, fmt, unmasked
        )
    finally:
        pool.shutdown(wait=False)


PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """The export's process ends when the bot's does, however it ends (``kill -9``): the bot
    writes the export again when it starts, and two writers of one file would garble it."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def write_in_snapshot(database: Path, target: Path, what: str, fmt: str, unmasked: bool) -> None:
    """The export's own process. A file cut short (a full disk) is not left behind: it holds
    names and numbers."""

    def made(conn: sqlite3.Connection) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("wb") as out:
                export(out, conn, what, fmt, i18n.catalog(), unmasked=unmasked)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    in_snapshot(database, made)
