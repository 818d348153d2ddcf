"""Exports for admins: plain rows that CSV, JSON (and later XLSX) writers share."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from handlers.phone import mask
from storage.declarations import Declaration
from storage.timefmt import to_db

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


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
