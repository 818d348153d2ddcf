"""The census and the handling statistics: one dictionary for the command line's JSON, the
chat's text and the chart.

Rates follow the 12345 hotline's trio: 响应率 (items someone acted on), 解决率 (items resolved
or closed) and 满意率 (ratings of 4 or 5 among rated items).
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import datetime, timedelta
from typing import Any

from bot.chart import Group, render_bars
from handlers.context import Context
from storage import stats
from storage.db import Tx

SATISFIED = 4


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _median_hours(spans: list[timedelta]) -> float | None:
    if not spans:
        return None
    return round(statistics.median(s.total_seconds() for s in spans) / 3600, 1)


def _spans(pairs: list[tuple[datetime, datetime | None]]) -> list[timedelta]:
    return [end - start for start, end in pairs if end is not None]


async def gather(tx: Tx) -> dict[str, Any]:
    by_status = await stats.declarations_by(tx, "status")
    categories = await stats.reports_by(tx, "category")
    statuses = await stats.reports_by(tx, "status")
    items = await stats.handling(tx)
    rated = [i.rating for i in items if i.rating is not None]
    return {
        "members": {
            "total": sum(by_status.values()),
            "verified": by_status.get("verified", 0),
            "pending": by_status.get("pending", 0),
            "rejected": by_status.get("rejected", 0),
            "by_political_status": await stats.declarations_by(tx, "political_status"),
            "by_platform": await stats.declarations_by(tx, "platform"),
            "by_district": await stats.declarations_by(tx, "district"),
            "by_branch": await stats.declarations_by_branch(tx),
        },
        "reports": {
            kind: {"by_category": categories.get(kind, {}), "by_status": statuses.get(kind, {})}
            for kind in ("hazard", "grievance")
        },
        "handling": {
            "total": len(items),
            "overdue": sum(1 for i in items if i.overdue),
            "response_rate": _rate(sum(1 for i in items if i.first_handled_at), len(items)),
            "resolution_rate": _rate(
                sum(1 for i in items if i.status in ("resolved", "closed")), len(items)
            ),
            "satisfaction_rate": _rate(sum(1 for r in rated if r >= SATISFIED), len(rated)),
            "median_hours_to_acknowledge": _median_hours(
                _spans([(i.created_at, i.first_handled_at) for i in items])
            ),
            "median_hours_to_resolve": _median_hours(
                _spans([(i.created_at, i.resolved_at) for i in items])
            ),
        },
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def summary_text(ctx: Context, figures: dict[str, Any]) -> str:
    members, handled = figures["members"], figures["handling"]
    reports = figures["reports"]
    return ctx.t(
        "stats.text",
        members=members["total"],
        verified=members["verified"],
        pending=members["pending"],
        party=sum(
            n for s, n in members["by_political_status"].items() if s in ("member", "probationary")
        ),
        hazards=sum(reports["hazard"]["by_status"].values()),
        grievances=sum(reports["grievance"]["by_status"].values()),
        response=_percent(handled["response_rate"]),
        resolution=_percent(handled["resolution_rate"]),
        satisfaction=_percent(handled["satisfaction_rate"]),
        ack_hours=_hours(handled["median_hours_to_acknowledge"]),
        resolve_hours=_hours(handled["median_hours_to_resolve"]),
        overdue=handled["overdue"],
    )


def chart_groups(ctx: Context, figures: dict[str, Any]) -> list[Group]:
    political = figures["members"]["by_political_status"]
    groups: list[Group] = [
        (
            ctx.t("stats.chart_members"),
            [(ctx.t(f"political.{s}"), n) for s, n in political.items()],
        )
    ]
    for kind in ("hazard", "grievance"):
        statuses = figures["reports"][kind]["by_status"]
        groups.append(
            (ctx.t(f"kind.{kind}"), [(ctx.t(f"status.{s}"), n) for s, n in statuses.items()])
        )
    return groups


async def show_stats(ctx: Context, _: str) -> None:
    """``/stats``: the figures as text, and as a chart picture."""
    figures = await gather(ctx.tx)
    chart = await asyncio.to_thread(
        render_bars,
        ctx.t("stats.chart_title"),
        chart_groups(ctx, figures),
        ctx.settings.data_dir / "charts" / f"stats-{ctx.now:%Y%m%d%H%M%S}.png",
    )
    await ctx.reply(summary_text(ctx, figures), photo=str(chart))
