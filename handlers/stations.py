"""Warm stations (暖新驿站, 暖新食堂, 暖新商户, rider-friendly communities): the nearest ones open
now, as places the app opens on a map; files of stations checked row by row; feedback.

Riders ask when a station is closed or off their route, so a search defaults to stations open
now within ``station_radius_m``, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.events import Event, EventKind, Reply, Request, Venue
from bot.i18n import Refusal
from handlers import engine
from handlers.context import Context, rows
from handlers.engine import Flow
from handlers.geo import distance_m, gcj02_to_wgs84, out_of_bounds
from handlers.hours import (
    Hours,
    HoursError,
    from_json,
    is_open,
    parse_hours,
    to_json,
    today_text,
)
from handlers.routing import admin_ids
from handlers.steps import Draft, Finish, Invalid, Outcome, Stay, Step, TextStep
from handlers.tables import read_table
from storage import audit, stations
from storage.db import Tx
from storage.stations import NewStation, Station

KINDS = {"station": "驿站", "canteen": "食堂", "merchant": "商户", "community": "骑手友好社区"}
AMENITIES = {
    "water": "饮水",
    "charging": "充电",
    "microwave": "微波炉",
    "toilet": "卫生间",
    "rest": "休息",
    "first_aid": "药箱",
    "rain_gear": "雨具",
    "offers": "优惠",
}
FILTERS = ("charging", "always", "closed")
"""Search filters a rider can toggle: only charging, only 24-hour, include closed now."""
RESULTS = 5
COLUMNS = ("name", "kind", "address", "lat", "lon", "hours", "amenities", "phone", "operator")


@dataclass(frozen=True)
class Found:
    station: Station
    distance_m: float
    open_now: bool


class RowError(Refusal):
    """Why a row of a station file (or a station typed in chat) is refused."""


def _code(raw: str, known: dict[str, str], error: str) -> str:
    wanted = raw.strip().lower()
    for code, label in known.items():
        if wanted in (code, label.lower()):
            return code
    raise RowError(error, value=raw.strip())


def station_from(row: dict[str, str], default_datum: str = "wgs84") -> NewStation:
    """One row of a station file, checked; raises :class:`RowError` saying what is wrong."""
    name = (row.get("name") or "").strip()
    if not name:
        raise RowError("stations.row.no_name")
    try:
        lat, lon = float(row.get("lat") or ""), float(row.get("lon") or "")
    except ValueError:
        raise RowError("stations.row.no_coordinates") from None
    datum = (row.get("datum") or default_datum).strip().lower()
    if datum not in ("wgs84", "gcj02"):
        raise RowError("stations.row.bad_datum", value=datum)
    if why := out_of_bounds(lat, lon):
        raise RowError(f"stations.row.{why}", lat=lat, lon=lon)
    if datum == "gcj02":
        lat, lon = gcj02_to_wgs84(lat, lon)
    return NewStation(
        name=name,
        kind=_code(row.get("kind") or "station", KINDS, "stations.row.bad_kind"),
        address=(row.get("address") or "").strip(),
        latitude=round(lat, 7),
        longitude=round(lon, 7),
        hours=hours_from(row.get("hours") or ""),
        amenities=amenities_from(row.get("amenities") or ""),
        phone=(row.get("phone") or "").strip(),
        operator=(row.get("operator") or "").strip(),
        offer=(row.get("offer") or "").strip(),
    )


def hours_from(raw: str) -> dict[str, list[list[int]]]:
    try:
        return to_json(parse_hours(raw))
    except HoursError as bad:
        raise RowError("stations.row.bad_hours", value=raw, why=bad) from None


def amenities_from(raw: str) -> tuple[str, ...]:
    items = raw.replace("、", ";").replace(",", ";").split(";")
    return tuple(_code(i, AMENITIES, "stations.row.bad_amenity") for i in items if i.strip())


def field_from(field: str, raw: str) -> Any:
    """One editable field, checked as an import checks it."""
    if field == "hours":
        return hours_from(raw)
    if field == "amenities":
        return amenities_from(raw)
    if field == "name" and not raw.strip():
        raise RowError("stations.row.no_name")
    return raw.strip()


def read_rows(path: Path) -> tuple[list[dict[str, str]], str]:
    """A CSV or XLSX file with a header row, and how it was read (UTF-8, GB18030, XLSX)."""
    loaded = read_table(path)
    if not loaded.rows:
        return [], loaded.encoding
    header = [cell.strip().lower() for cell in loaded.rows[0]]
    rows = [
        dict(zip(header, row, strict=False))
        for row in loaded.rows[1:]
        if any(c.strip() for c in row)
    ]
    return rows, loaded.encoding


async def import_rows(
    tx: Tx, actor: str, table: list[dict[str, str]], default_datum: str, now: datetime
) -> tuple[int, list[tuple[int, RowError]]]:
    """Adds every good row; returns how many, and each refused row with its reason (the row
    number counts the header as row 1, as a spreadsheet shows it)."""
    added, refused = 0, []
    seen: set[tuple[str, float, float]] = set()
    for number, row in enumerate(table, start=2):
        try:
            station = station_from(row, default_datum)
            key = (station.name, round(station.latitude, 4), round(station.longitude, 4))
            if key in seen or await stations.near_duplicate(
                tx, station.name, station.latitude, station.longitude
            ):
                raise RowError("stations.row.duplicate", name=station.name)
        except RowError as bad:
            refused.append((number, bad))
            continue
        seen.add(key)
        await stations.add(tx, station, now)
        added += 1
    await audit.record(
        tx, actor, "stations_import", "", now, f"added={added} refused={len(refused)}"
    )
    return added, refused


async def nearest(
    tx: Tx,
    latitude: float,
    longitude: float,
    now: datetime,
    radius_m: float,
    filters: frozenset[str] = frozenset(),
    limit: int = RESULTS,
) -> list[Found]:
    """Nearest first: distances come from the index's points alone; the stations' details are
    read only for the nearest few, in batches, until ``limit`` pass the filters."""
    points = await stations.points_in_box(tx, latitude, longitude, radius_m)
    ranked = sorted(
        (away, station_id)
        for station_id, lat, lon in points
        if (away := distance_m(latitude, longitude, lat, lon)) <= radius_m
    )
    found: list[Found] = []
    for start in range(0, len(ranked), BATCH):
        batch = ranked[start : start + BATCH]
        details = await stations.get_many(tx, [station_id for _, station_id in batch])
        for away, station_id in batch:
            station = details[station_id]
            hours = from_json(station.hours)
            open_now = is_open(hours, now)
            if passes(station, hours, open_now, filters, now):
                found.append(Found(station, away, open_now))
                if len(found) == limit:
                    return found
    return found


BATCH = 20


def passes(
    station: Station, hours: Hours, open_now: bool, filters: frozenset[str], now: datetime
) -> bool:
    if "closed" not in filters and not open_now:
        return False
    if "charging" in filters and "charging" not in station.amenities:
        return False
    return "always" not in filters or today_text(hours, now) == "24h"


class NearStep(Step):
    """Share a location; the filter buttons toggle before it."""

    name = "near"
    field = "near"
    label_key = None

    def __init__(self) -> None:
        self.when = lambda draft: True

    async def prompt(self, ctx: Context, draft: Draft) -> Reply:
        chosen = set(draft.get("filters", []))
        buttons = [
            ctx.button(f"stations.filter.{f}", f, mark="✅ " if f in chosen else "")
            for f in FILTERS
        ]
        return Reply(
            text=ctx.t("stations.ask_location"),
            buttons=rows(buttons, 1),
            request=Request.LOCATION,
            request_label=ctx.t("button.share_location"),
        )

    async def accept(self, ctx: Context, draft: Draft, event: Event) -> Outcome:
        if event.kind is EventKind.BUTTON and event.data in FILTERS:
            chosen = set(draft.get("filters", [])) ^ {event.data}
            draft["filters"] = sorted(chosen)
            await ctx.send(ctx.user.id, await self.prompt(ctx, draft))
            return Stay()
        if event.kind is not EventKind.LOCATION:
            return Invalid("stations.need_location")
        assert event.latitude is not None and event.longitude is not None
        if why := out_of_bounds(event.latitude, event.longitude):
            return Invalid(f"location.{why}")
        await show_nearest(
            ctx, event.latitude, event.longitude, frozenset(draft.get("filters", []))
        )
        return Finish()


class StationSearch(Flow):
    name = "stations"
    title_key = "stations.title"
    steps = (NearStep(),)

    async def complete(self, ctx: Context, draft: Draft) -> None:
        """The search ends in its step: a location answers it at once."""


SEARCH = StationSearch()


async def find_stations(ctx: Context, _: str) -> None:
    await engine.begin(ctx, SEARCH)


def amenity_text(ctx: Context, station: Station) -> str:
    return "、".join(ctx.t(f"stations.amenity.{a}") for a in station.amenities) or "—"


async def show_nearest(
    ctx: Context, latitude: float, longitude: float, filters: frozenset[str]
) -> None:
    radius = ctx.settings.station_radius_m
    found = await nearest(ctx.tx, latitude, longitude, ctx.now, radius, filters)
    if not found:
        none = ctx.t("stations.none_near", km=f"{radius / 1000:g}")
        await ctx.reply(
            f"{none}\n{ctx.t('stations.suggest_hint')}",
            ((ctx.menu_button("stations.suggest", "stationfb", "new"),),),
        )
        return
    lines = [ctx.t("stations.found", count=len(found))]
    for number, item in enumerate(found, start=1):
        station = item.station
        hours = today_text(from_json(station.hours), ctx.now) or ctx.t("stations.day_off")
        state = ctx.t("stations.open" if item.open_now else "stations.closed_now")
        lines.append(
            ctx.t(
                "stations.line",
                n=number,
                name=station.name,
                metres=round(item.distance_m),
                state=state,
                hours=hours,
                amenities=amenity_text(ctx, station),
            )
        )
        await ctx.send(
            ctx.user.id,
            Reply(
                venue=Venue(
                    station.latitude,
                    station.longitude,
                    f"{number}. {station.name}",
                    f"{round(item.distance_m)} m · {hours} · {station.address}",
                )
            ),
        )
    buttons = [
        ctx.menu_button("stations.problem", "stationfb", item.station.id, n=n)
        for n, item in enumerate(found, start=1)
    ]
    buttons.append(ctx.menu_button("stations.suggest", "stationfb", "new"))
    await ctx.reply("\n".join(lines), rows(buttons, 3))


class FeedbackFlow(Flow):
    """A problem with a station, or a place that should be one: it goes to the admins."""

    name = "station_feedback"
    title_key = "stations.feedback_title"
    steps = (
        TextStep(
            name="text",
            field="text",
            prompt_key="stations.ask_feedback",
            label_key=None,
            max_len=500,
        ),
    )

    async def complete(self, ctx: Context, draft: Draft) -> None:
        station_id = draft.get("station")
        station = await stations.get(ctx.tx, station_id) if station_id else None
        await stations.add_feedback(ctx.tx, station_id, ctx.user.id, draft["text"], ctx.now)
        about = station.name if station else "—"
        for admin in await admin_ids(ctx):
            await ctx.push(admin, "stations.feedback_for_admin", station=about, text=draft["text"])
        await ctx.say("stations.feedback_thanks")


FEEDBACK = FeedbackFlow()


async def feedback(ctx: Context, argument: str) -> None:
    """``stationfb:ID`` (a problem with that station) or ``stationfb:new`` (a suggestion)."""
    station_id = int(argument) if argument.isdigit() else None
    if argument != "new" and (
        station_id is None or await stations.get(ctx.tx, station_id) is None
    ):
        ctx.alert("hint.unknown_button")
        return
    await engine.begin(ctx, FEEDBACK, {"station": station_id})


async def add_command(ctx: Context, arguments: str) -> None:
    """``/addstation 名称|类型|地址|纬度,经度|营业时间|设施`` (WGS-84)."""
    parts = [p.strip() for p in arguments.split("|")]
    if len(parts) < 5:
        await ctx.say("stations.add_usage")
        return
    lat, _, lon = parts[3].partition(",")
    row = dict(zip(("name", "kind", "address"), parts[:3], strict=False))
    row |= {
        "lat": lat,
        "lon": lon,
        "hours": parts[4],
        "amenities": parts[5] if len(parts) > 5 else "",
    }
    try:
        station = station_from(row)
    except RowError as bad:
        await ctx.say(bad.key, **bad.params)
        return
    station_id = await stations.add(ctx.tx, station, ctx.now)
    await audit.record(ctx.tx, ctx.actor, "station_add", str(station_id), ctx.now, station.name)
    await ctx.say("stations.added", id=station_id, name=station.name)


EDITABLE = ("name", "address", "hours", "amenities", "phone", "operator", "offer")


async def edit_command(ctx: Context, arguments: str) -> None:
    """``/editstation ID name|address|hours|amenities|phone|operator|offer VALUE``"""
    parts = arguments.split(maxsplit=2)
    station = await stations.get(ctx.tx, int(parts[0])) if parts and parts[0].isdigit() else None
    if station is None or len(parts) < 3 or parts[1] not in EDITABLE:
        await ctx.say("stations.edit_usage", fields=" ".join(EDITABLE))
        return
    field, value = parts[1], parts[2]
    try:
        changed = replace(station, **{field: field_from(field, value)})
    except RowError as bad:
        await ctx.say(bad.key, **bad.params)
        return
    await stations.update(ctx.tx, changed, ctx.now)
    await audit.record(
        ctx.tx, ctx.actor, "station_edit", str(station.id), ctx.now, f"{field}={value}"
    )
    await ctx.say("stations.edited", id=station.id, field=field)


async def close_command(ctx: Context, argument: str) -> None:
    """``/closestation ID``: closed for good, never offered again."""
    if not argument.isdigit() or not await stations.close(ctx.tx, int(argument), ctx.now):
        await ctx.say("stations.no_such", id=argument)
        return
    await audit.record(ctx.tx, ctx.actor, "station_close", argument, ctx.now)
    await ctx.say("stations.closed", id=argument)
