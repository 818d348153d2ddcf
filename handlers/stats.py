"""The census and the handling statistics: one dictionary for the command line's JSON, the
chat's text and the chart.

Rates follow the 12345 hotline's trio: 响应率 (items someone acted on), 解决率 (items resolved
or closed) and 满意率 (ratings of 4 or 5 among rated items).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

from bot.chart import Group, render_bars
from bot.events import Reply
from handlers.context import Afterwards, Context
from storage import stats

Words = Callable[..., str]
"""A catalog lookup in the reader's language: ``t(key, **params)``."""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _by(groups: list[stats.ItemCounts], kind: str, field: str) -> dict[str, int]:
    """Items of a kind counted by category or status, most first."""
    counted: dict[str, int] = {}
    for group in groups:
        if group.kind == kind:
            key = getattr(group, field)
            counted[key] = counted.get(key, 0) + group.items
    return dict(sorted(counted.items(), key=lambda pair: -pair[1]))


def gather(
    conn: sqlite3.Connection, scope: stats.Scope = None, *, breakdowns: bool = True
) -> dict[str, Any]:
    """Every figure, from one snapshot (run it with ``Database.read_snapshot``), of the
    organisations in ``scope`` (None: of everything); without ``breakdowns``, members are not
    counted by platform, district and branch (the console's overview does not show them)."""
    by_status = stats.declarations_by(conn, "status", scope)
    groups = stats.item_counts(conn, scope)
    total = sum(g.items for g in groups)
    rated = sum(g.rated for g in groups)
    return {
        "members": {
            "total": sum(by_status.values()),
            "verified": by_status.get("verified", 0),
            "pending": by_status.get("pending", 0),
            "rejected": by_status.get("rejected", 0),
            "by_political_status": stats.declarations_by(conn, "political_status", scope),
            **(
                {
                    "by_platform": stats.declarations_by(conn, "platform", scope),
                    "by_district": stats.declarations_by(conn, "district", scope),
                    "by_branch": stats.declarations_by_branch(conn, scope),
                }
                if breakdowns
                else {}
            ),
        },
        "reports": {
            kind: {
                "by_category": _by(groups, kind, "category"),
                "by_status": _by(groups, kind, "status"),
            }
            for kind in ("hazard", "grievance")
        },
        "handling": {
            "total": total,
            "overdue": sum(g.overdue for g in groups),
            "response_rate": _rate(sum(g.responded for g in groups), total),
            "resolution_rate": _rate(
                sum(g.items for g in groups if g.status in ("resolved", "closed")), total
            ),
            "satisfaction_rate": _rate(sum(g.satisfied for g in groups), rated),
            "median_hours_to_acknowledge": _hours(stats.median_hours(conn, "hours_to_ack", scope)),
            "median_hours_to_resolve": _hours(stats.median_hours(conn, "hours_to_resolve", scope)),
        },
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _shown_hours(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def headline(figures: dict[str, Any]) -> dict[str, int | str]:
    """The figures ``/stats`` states, as it states them: the console shows the very same."""
    members, handled = figures["members"], figures["handling"]
    reports = figures["reports"]
    return {
        "members": members["total"],
        "verified": members["verified"],
        "pending": members["pending"],
        "party": sum(
            n for s, n in members["by_political_status"].items() if s in ("member", "probationary")
        ),
        "hazards": sum(reports["hazard"]["by_status"].values()),
        "grievances": sum(reports["grievance"]["by_status"].values()),
        "overdue": handled["overdue"],
        "response": _percent(handled["response_rate"]),
        "resolution": _percent(handled["resolution_rate"]),
        "satisfaction": _percent(handled["satisfaction_rate"]),
        "ack_hours": _shown_hours(handled["median_hours_to_acknowledge"]),
        "resolve_hours": _shown_hours(handled["median_hours_to_resolve"]),
    }


def summary_text(t: Words, figures: dict[str, Any]) -> str:
    return t("stats.text", **headline(figures))


def chart_groups(t: Words, figures: dict[str, Any]) -> list[Group]:
    political = figures["members"]["by_political_status"]
    groups: list[Group] = [
        (t("stats.chart_members"), [(t(f"political.{s}"), n) for s, n in political.items()])
    ]
    for kind in ("hazard", "grievance"):
        statuses = figures["reports"][kind]["by_status"]
        groups.append((t(f"kind.{kind}"), [(t(f"status.{s}"), n) for s, n in statuses.items()]))
    return groups


async def show_stats(ctx: Context, _: str) -> None:
    """``/stats``: the figures as text, and as a chart picture; counted from a snapshot and
    drawn after the event's transaction, so nobody else's answer waits for them."""
    await ctx.leave_for_after("stats")


async def figures_with_chart(later: Afterwards, _: dict[str, Any]) -> None:
    figures = await later.db.read_snapshot(gather)
    target = later.settings.data_dir / "exports" / f"stats-{secrets.token_hex(8)}.png"
    chart = await asyncio.to_thread(
        render_bars, later.t("stats.chart_title"), chart_groups(later.t, figures), target
    )
    await later.answer(Reply(text=summary_text(later.t, figures), photo=str(chart)))
