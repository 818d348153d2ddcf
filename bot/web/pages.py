"""The console's pages: what each one reads, for whom. Every read is scoped to the person's
organisations (an admin's scope is everything) and kept to a page."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.app import App
from bot.clock import CHINA
from bot.web.render import Pages
from bot.web.visit import Refused, Visit, flashed
from handlers import grievance, hazard
from handlers.activities import current_occurrence, next_after
from handlers.geo import wgs84_to_gcj02
from handlers.lifecycle import STATUSES
from handlers.phone import mask
from handlers.stats import gather, headline
from storage import (
    activities,
    audit,
    branches,
    declarations,
    item_lists,
    personal,
    reports,
    stats,
)
from storage.branches import Branch
from storage.item_lists import ItemFilter
from storage.reports import OPEN_STATUSES, Report
from storage.timefmt import to_db

CATEGORIES = {
    "hazard": tuple(choice.value for choice in hazard.CATEGORIES),
    "grievance": tuple(choice.value for choice in grievance.CATEGORIES),
}
WEEKS = 12


@dataclass(frozen=True)
class Tiles:
    """``NUANXIN_MAP_TILES``: ``URL template|attribution[|gcj02]``. Points are stored in
    WGS-84 and drawn in the tiles' datum."""

    url: str
    attribution: str
    gcj02: bool

    @classmethod
    def parse(cls, raw: str) -> Tiles | None:
        if not raw:
            return None
        url, _, rest = raw.partition("|")
        attribution, _, datum = rest.partition("|")
        return cls(url.strip(), attribution.strip(), datum.strip().lower() == "gcj02")

    def place(self, latitude: float, longitude: float) -> tuple[float, float]:
        return wgs84_to_gcj02(latitude, longitude) if self.gcj02 else (latitude, longitude)


def _day(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=CHINA)
    except ValueError:
        return None


class Reader:
    """Renders the pages; every method takes the visit already checked."""

    def __init__(self, app: App, pages: Pages) -> None:
        self.app = app
        self.pages = pages
        self.tiles = Tiles.parse(app.settings.map_tiles)

    def show(self, request: web.Request, visit: Visit, name: str, **values: Any) -> web.Response:
        return self.pages.render(
            name,
            visit.lang,
            visit=visit,
            path=request.path,
            flashed=flashed(request),
            **values,
        )

    async def _organisations(self, visit: Visit) -> list[Branch]:
        """The organisations the visitor sees, for filters and the tree."""
        async with self.app.db.reading() as tx:
            every = await branches.all_branches(tx)
        scope = visit.desk.scope
        return [b for b in every if scope is None or b.id in scope]

    async def overview(self, request: web.Request, visit: Visit) -> web.Response:
        scope = visit.desk.scope
        now = self.app.clock.now()
        since = now - timedelta(weeks=WEEKS)
        figures, weeks = await self.app.db.read_snapshot(
            lambda conn: (
                gather(conn, scope, breakdowns=False),
                stats.weekly(conn, since, scope),
            )
        )
        async with self.app.db.reading() as tx:
            late = await item_lists.behind(tx, scope, now)
        busiest = max((w.hazards + w.grievances for w in weeks), default=0)
        return self.show(
            request,
            visit,
            "overview.html",
            figures=figures,
            headline=headline(figures),
            weeks=weeks,
            busiest=busiest or 1,
            behind=late[:10],
        )

    def filter_from(self, request: web.Request, visit: Visit) -> tuple[ItemFilter, dict[str, str]]:
        """The table's and the map's filters, from the query string; a value that is not one
        of the choices is ignored, never passed on."""
        query = request.query
        kind = query.get("kind", "")
        kind = kind if kind in CATEGORIES else ""
        category = query.get("category", "")
        known = CATEGORIES.get(kind) or CATEGORIES["hazard"] + CATEGORIES["grievance"]
        category = category if category in known else ""
        status = query.get("status", "")
        status = status if status in STATUSES else ""
        chosen_scope = visit.desk.scope
        org = query.get("org", "")
        if org.isdigit():
            wanted = int(org)
            if chosen_scope is not None and wanted not in chosen_scope:
                raise Refused("not_yours", 403)
            chosen_scope = frozenset({wanted})
        since, until = _day(query.get("since", "")), _day(query.get("until", ""))
        shown = {
            "kind": kind,
            "category": category,
            "status": status,
            "org": org if org.isdigit() else "",
            "overdue": "1" if query.get("overdue") == "1" else "",
            "since": query.get("since", "") if since else "",
            "until": query.get("until", "") if until else "",
        }
        return (
            ItemFilter(
                kind=kind,
                category=category,
                status=status,
                overdue=bool(shown["overdue"]),
                since=since,
                until=until + timedelta(days=1) if until else None,
                branches=chosen_scope,
            ),
            shown,
        )

    async def _organisation_subtree(self, chosen: ItemFilter) -> ItemFilter:
        """An organisation chosen in the filter stands for itself and those below it."""
        if chosen.branches is None or len(chosen.branches) != 1:
            return chosen
        (only,) = chosen.branches
        async with self.app.db.reading() as tx:
            below = await branches.with_descendants(tx, only)
        return replace(chosen, branches=below)

    async def items(self, request: web.Request, visit: Visit) -> web.Response:
        chosen, shown = self.filter_from(request, visit)
        if shown["org"]:
            chosen = await self._organisation_subtree(chosen)
        oldest_first = request.query.get("sort") == "old"
        async with self.app.db.reading() as tx:
            page = await item_lists.page(
                tx, chosen, request.query.get("after", ""), oldest_first=oldest_first
            )
        sort = "old" if oldest_first else "new"
        organisations = await self._organisations(visit)
        chosen_query = {name: value for name, value in shown.items() if value}
        if oldest_first:
            chosen_query["sort"] = sort
        return self.show(
            request,
            visit,
            "items.html",
            page=page,
            shown=shown,
            sort=sort,
            next_query=urlencode({**chosen_query, "after": page.after or ""}),
            first_query=urlencode(chosen_query) if request.query.get("after") else None,
            categories=CATEGORIES,
            statuses=STATUSES,
            organisations=organisations,
            names={b.id: b.name for b in organisations},
        )

    async def item(self, request: web.Request, visit: Visit) -> web.Response:
        ref = request.match_info["ref"]
        async with self.app.db.reading() as tx:
            report = await reports.get(tx, ref)
            if report is None:
                raise Refused("no_item", 404)
            if not visit.desk.handles(report.branch_id):
                raise Refused("not_yours", 403)
            history = await reports.history(tx, report.id)
            photos = await reports.photos(tx, report.id)
            riders = await reports.reporters(tx, report.id)
            people = await self._reporters(tx, report, riders)
            # the history names who handled each step, never the riders who sent the item
            handlers = await declarations.names(
                tx, {entry.actor for entry in history} - {*riders, report.reporter}
            )
            above = await branches.ancestors(tx, report.branch_id) if report.branch_id else []
            branch = await branches.get(tx, report.branch_id) if report.branch_id else None
        place = (
            self.tiles.place(report.latitude, report.longitude)
            if self.tiles and report.latitude is not None and report.longitude is not None
            else (report.latitude, report.longitude)
        )
        return self.show(
            request,
            visit,
            "item.html",
            report=report,
            seen=to_db(report.updated_at),
            history=history,
            handlers=handlers,
            photos=photos,
            people=people,
            can_forward=bool(above),
            is_open=report.status in OPEN_STATUSES,
            branch=branch,
            place=place,
            tiles=self.tiles,
        )

    @staticmethod
    async def _reporters(tx: Any, report: Report, riders: list[str]) -> list[str]:
        """Who sent the item, by declared name; an anonymous grievance names nobody."""
        if report.anonymous:
            return []
        names = []
        for person in riders:
            declaration = await declarations.get(tx, person)
            if declaration is not None:
                names.append(declaration.name)
            elif await personal.withdrew(tx, person):
                names.append("")
            else:
                names.append(person)
        return names

    async def map(self, request: web.Request, visit: Visit) -> web.Response:
        chosen, shown = self.filter_from(request, visit)
        if shown["org"]:
            chosen = await self._organisation_subtree(chosen)
        async with self.app.db.reading() as tx:
            found = await item_lists.points(tx, chosen)
        points = []
        for point in found:
            latitude, longitude = (
                self.tiles.place(point.latitude, point.longitude)
                if self.tiles
                else (point.latitude, point.longitude)
            )
            points.append(
                {
                    "ref": point.ref,
                    "status": point.status,
                    "open": point.status in OPEN_STATUSES,
                    "lat": round(latitude, 6),
                    "lon": round(longitude, 6),
                    "label": self.pages.word(visit.lang, f"{point.kind}.cat.{point.category}"),
                }
            )
        return self.show(
            request,
            visit,
            "map.html",
            shown=shown,
            categories=CATEGORIES,
            statuses=STATUSES,
            organisations=await self._organisations(visit),
            points=json.dumps(points, ensure_ascii=False).replace("</", "<\\/"),
            count=len(points),
            capped=len(points) >= item_lists.MAP_POINTS,
            tiles=self.tiles,
        )

    async def deadlines(self, request: web.Request, visit: Visit) -> web.Response:
        now = self.app.clock.now()
        midnight = datetime.combine(now.astimezone(CHINA).date(), datetime.min.time(), CHINA)
        scope = visit.desk.scope
        async with self.app.db.reading() as tx:
            late = await item_lists.due_between(tx, scope, datetime(2000, 1, 1, tzinfo=CHINA), now)
            today = await item_lists.due_between(tx, scope, now, midnight + timedelta(days=1))
            behind = await item_lists.behind(tx, scope, now)
        return self.show(
            request,
            visit,
            "deadlines.html",
            late=late,
            today=today,
            behind=behind,
            names={b.id: b.name for b in await self._organisations(visit)},
        )

    async def declarations(self, request: web.Request, visit: Visit) -> web.Response:
        async with self.app.db.reading() as tx:
            waiting = await declarations.pending(tx, visit.desk.scope)
        masked = {d.user_id: mask(d.phone) for d in waiting}
        return self.show(request, visit, "declarations.html", waiting=waiting, masked=masked)

    async def organisations(self, request: web.Request, visit: Visit) -> web.Response:
        shown = await self._organisations(visit)
        ids = {b.id for b in shown}
        async with self.app.db.reading() as tx:
            staffing = await branches.staffing(tx)
            names = await declarations.names(
                tx, [person for b in ids if b in staffing for person in staffing[b].secretaries]
            )
        children: dict[int | None, list[Branch]] = {}
        for branch in shown:
            parent = branch.parent_id if branch.parent_id in ids else None
            children.setdefault(parent, []).append(branch)
        tree: list[tuple[int, Branch]] = []

        def walk(parent: int | None, depth: int) -> None:
            for branch in sorted(children.get(parent, []), key=lambda b: b.code):
                tree.append((depth, branch))
                walk(branch.id, depth + 1)

        walk(None, 0)
        return self.show(
            request,
            visit,
            "branches.html",
            tree=tree,
            staffing=staffing,
            names=names,
            can_poster=bool(self.app.settings.telegram_bot_username),
        )

    async def activities(self, request: web.Request, visit: Visit) -> web.Response:
        now = self.app.clock.now()
        rows = []
        async with self.app.db.reading() as tx:
            for activity in await activities.of_branches(tx, visit.desk.scope, limit=50):
                occurrence = (
                    current_occurrence(activity, now)
                    or next_after(activity, now)
                    or activity.starts_at
                )
                people = await activities.attendance(tx, activity.id, occurrence)
                names = await declarations.names(tx, [p.user_id for p in people])
                rows.append(
                    {
                        "activity": activity,
                        "occurrence": occurrence,
                        "going": [names[p.user_id] for p in people if p.answer == "yes"],
                        "came": [names[p.user_id] for p in people if p.checked_in_at],
                    }
                )
        return self.show(request, visit, "activities.html", rows=rows)

    async def exports(self, request: web.Request, visit: Visit) -> web.Response:
        if not visit.desk.is_admin:
            raise Refused("admins_only", 403)
        return self.show(request, visit, "exports.html")

    async def audit_log(self, request: web.Request, visit: Visit) -> web.Response:
        if not visit.desk.is_admin:
            raise Refused("admins_only", 403)
        before = request.query.get("before", "")
        actor = request.query.get("actor", "")[:100]
        async with self.app.db.reading() as tx:
            page = await audit.page(tx, int(before) if before.isdigit() else None, actor)
        return self.show(request, visit, "audit.html", page=page, actor=actor)
