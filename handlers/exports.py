"""Exports for admins: plain rows that the CSV, JSON and XLSX writers share, gathered the same
way for the command line and for a document sent in chat."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from bot.clock import CHINA
from bot.i18n import Catalog
from handlers.context import Context, rows
from handlers.phone import mask
from storage import activities, audit, declarations, reports
from storage.db import Tx
from storage.declarations import Declaration
from storage.reports import Report
from storage.timefmt import to_db

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


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet take a cell of text for a formula (OWASP's CSV injection list)."""


def inert(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula gets a leading apostrophe, as OWASP
    recommends for CSV; numbers and everything else stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else inert(v) for k, v in row.items()})
    return buffer.getvalue()


def to_xlsx(rows: Sequence[dict[str, Any]], columns: Sequence[str], sheet: str) -> bytes:
    """One sheet, a header row, frozen so it stays in view while scrolling. Every text is a
    string cell: a name typed as ``=HYPERLINK(…)`` is shown, never run."""
    book = Workbook()
    page = book.active
    assert page is not None
    page.title = sheet
    page.append(list(columns))
    for row in rows:
        page.append([_cell(row.get(column)) for column in columns])
        for cell in page[page.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    page.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


async def rows_for(
    tx: Tx, what: str, fmt: str, catalog: Catalog, *, unmasked: bool
) -> list[dict[str, Any]]:
    if what == "members":
        members = await declarations.all_declarations(tx)
        return [member_row(m, unmasked=unmasked) for m in members]
    if what == "attendance":
        return await attendance_rows(tx)
    found = await reports.of_kind(tx, what.removesuffix("s"))
    if fmt == "open311":
        return [open311_row(r, catalog) for r in found]
    ids = [r.id for r in found]
    photos = await reports.photo_counts(tx, ids)
    reporters = await reports.reporter_counts(tx, ids)
    return [
        report_row(r, photos=photos.get(r.id, 0), reporters=reporters.get(r.id, 1)) for r in found
    ]


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


async def attendance_rows(tx: Tx) -> list[dict[str, Any]]:
    """One row per person per occurrence: who said they would come, and who came."""
    rows = []
    names = {d.user_id: d.name for d in await declarations.all_declarations(tx)}
    for activity in reversed(await activities.of_branches(tx, None, limit=-1)):
        for occurrence in await activities.occurrences(tx, activity.id):
            for person in await activities.attendance(tx, activity.id, occurrence):
                rows.append(
                    {
                        "activity": activity.id,
                        "title": activity.title,
                        "kind": activity.kind,
                        "occurrence": occurrence.astimezone(CHINA).isoformat(),
                        "user": person.user_id,
                        "name": names.get(person.user_id),
                        "answer": person.answer,
                        "checked_in_at": to_db(person.checked_in_at)
                        if person.checked_in_at
                        else None,
                        "method": person.method,
                    }
                )
    return rows


def render(rows: list[dict[str, Any]], what: str, fmt: str) -> bytes:
    columns = {"members": MEMBER_COLUMNS, "attendance": ATTENDANCE_COLUMNS}.get(
        what, REPORT_COLUMNS
    )
    if fmt == "xlsx":
        return to_xlsx(rows, columns, what)
    if fmt == "csv":
        return to_csv(rows, columns).encode("utf-8-sig")
    return to_json(rows).encode("utf-8")


async def export_command(ctx: Context, arguments: str) -> None:
    """``/export members|hazards|grievances [xlsx|csv|json] [unmasked]``, sent as a document;
    bare ``/export`` offers buttons. Full phone numbers are given only when asked for, and
    the asking is audited."""
    words = arguments.replace(":", " ").split()
    what = next((w for w in words if w in WHAT), None)
    if what is None:
        buttons = [ctx.menu_button(f"export.{name}", "export", name, "xlsx") for name in WHAT]
        await ctx.reply(ctx.t("export.pick"), rows(buttons, 1))
        return
    fmt = next((w for w in words if w in ("xlsx", "csv", "json")), "xlsx")
    unmasked = "unmasked" in words
    data = render(await rows_for(ctx.tx, what, fmt, ctx.catalog, unmasked=unmasked), what, fmt)
    name = f"{what}-{ctx.now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.{fmt}"
    target = ctx.settings.data_dir / "exports" / name
    await asyncio.to_thread(_write, target, data)
    await audit.record(
        ctx.tx, ctx.user.id, "export_unmasked" if unmasked else "export", what, ctx.now, fmt
    )
    await ctx.reply(ctx.t("export.ready", what=ctx.t(f"export.{what}")), document=str(target))


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
