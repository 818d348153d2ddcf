"""Tables people bring: CSV or XLSX, saved by Excel on Chinese Windows as often as not.

Excel on Chinese Windows saves "CSV" in GB18030 (GBK); other tools save UTF-8, with or without
a byte-order mark. A file is read as UTF-8 when it is valid UTF-8, else as GB18030, and the
caller is told which, so a wrong guess is visible.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from bot.i18n import Refusal

UTF8 = "UTF-8"
GB18030 = "GB18030"
XLSX = "XLSX"


class TableError(Refusal):
    """The file is not a table we can read."""


@dataclass(frozen=True)
class Table:
    rows: list[list[str]]
    encoding: str
    """How the file was read: UTF-8, GB18030, or XLSX."""


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """The text of a file and the encoding it was read in."""
    try:
        return raw.decode("utf-8-sig"), UTF8
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), GB18030
    except UnicodeDecodeError:
        raise TableError("table.not_text", name=name) from None


def read_table(path: Path) -> Table:
    """Every row of a CSV or XLSX file, cells as text."""
    if path.suffix.lower() == ".xlsx":
        sheet = load_workbook(path, read_only=True).active
        rows = [
            ["" if v is None else str(v) for v in row]
            for row in (sheet.iter_rows(values_only=True) if sheet else [])
        ]
        return Table(rows, XLSX)
    text, encoding = decode(path.read_bytes(), path.name)
    return Table(list(csv.reader(io.StringIO(text))), encoding)
