"""Data comparison (数据比对): a platform's roster of riders against the declarations.

People are matched by mobile number, normalised the way the declaration flow stores it, so
``+86 138-0013-8000`` in a roster meets ``13800138000`` in a declaration. Phone numbers in the
result are masked: the file travels further than the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.i18n import Refusal
from handlers.phone import mask, normalize_mobile
from handlers.steps import InvalidInput
from handlers.tables import read_table
from storage import declarations
from storage.db import Tx
from storage.declarations import Declaration

COLUMNS = (
    "outcome",
    "phone",
    "roster_name",
    "declared_name",
    "roster_platform",
    "declared_platform",
    "roster_station",
    "declared_station",
)
HEADERS = {
    "name": ("name", "姓名"),
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码", "电话"),
    "platform": ("platform", "平台"),
    "station": ("station", "站点", "网点"),
}


@dataclass(frozen=True)
class RosterEntry:
    name: str
    phone: str
    platform: str
    station: str


class RosterError(Refusal):
    """A roster the comparison cannot use."""


def read(path: Path) -> tuple[list[RosterEntry], str]:
    """Reads a CSV or XLSX roster whose header names the columns, in English or Chinese; and
    how it was read (UTF-8, GB18030, XLSX)."""
    loaded = read_table(path)
    table = loaded.rows
    if not table:
        return [], loaded.encoding
    header = [cell.strip().lower() for cell in table[0]]
    where = {field: _column(header, names) for field, names in HEADERS.items()}
    if where["phone"] is None:
        raise RosterError("roster.no_phone_column")
    entries = [
        RosterEntry(**{field: _cell(row, where[field]) for field in HEADERS})
        for row in table[1:]
        if any(cell.strip() for cell in row)
    ]
    return entries, loaded.encoding


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((n for n, cell in enumerate(header) if cell in names), None)


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _normal(phone: str) -> str | None:
    try:
        return normalize_mobile(phone)
    except InvalidInput:
        return None


async def compare(tx: Tx, roster: list[RosterEntry]) -> list[dict[str, Any]]:
    declared = await declarations.all_declarations(tx)
    by_phone = {d.phone: d for d in declared}
    roster_phones = Counter(p for p in (_normal(e.phone) for e in roster) if p)
    declared_phones = Counter(d.phone for d in declared)
    rows: list[dict[str, Any]] = []
    for entry in roster:
        phone = _normal(entry.phone)
        match = by_phone.get(phone or "")
        if phone is None:
            outcome = "bad_phone"
        elif roster_phones[phone] > 1:
            outcome = "duplicate_in_roster"
        elif match is None:
            outcome = "in_roster_not_declared"
        else:
            outcome = "matched"
        rows.append(_row(outcome, phone or entry.phone, entry, match))
    for declaration in declared:
        if declared_phones[declaration.phone] > 1:
            rows.append(_row("duplicate_in_declarations", declaration.phone, None, declaration))
        elif declaration.phone not in roster_phones:
            rows.append(_row("declared_not_in_roster", declaration.phone, None, declaration))
    return rows


def _row(
    outcome: str, phone: str, entry: RosterEntry | None, declaration: Declaration | None
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "phone": mask(phone),
        "roster_name": entry.name if entry else "",
        "declared_name": declaration.name if declaration else "",
        "roster_platform": entry.platform if entry else "",
        "declared_platform": declaration.platform if declaration else "",
        "roster_station": entry.station if entry else "",
        "declared_station": declaration.station if declaration else "",
    }
