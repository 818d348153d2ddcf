"""Exports for admins: plain rows that CSV, JSON (and later XLSX) writers share."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from bot.clock import CHINA
from bot.i18n import Catalog
from handlers.phone import mask
from storage.declarations import Declaration
from storage.reports import Report
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
        "voice": bool(report.voice),
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


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
