"""Warm stations and the spatial index over them.

Coordinates are WGS-84. The R*Tree holds each station as a point (a box of zero size); a
search asks it for the box around the rider and measures only what falls inside.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import IN_LIST, Tx, as_list, fetch_all, fetch_one
from storage.timefmt import to_db

METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class NewStation:
    name: str
    kind: str
    address: str
    latitude: float
    longitude: float
    hours: dict[str, list[list[int]]]
    amenities: tuple[str, ...]
    phone: str = ""
    operator: str = ""
    offer: str = ""


@dataclass(frozen=True)
class Station(NewStation):
    id: int = 0
    closed: bool = False


_COLUMNS = (
    "id, name, kind, address, latitude, longitude, hours, amenities, phone, operator, offer, "
    "closed_at"
)


def _station(row: Any) -> Station:
    values = dict(row)
    values["hours"] = json.loads(values["hours"])
    values["amenities"] = tuple(filter(None, values["amenities"].split(",")))
    values["closed"] = values.pop("closed_at") is not None
    return Station(**values)


_INSERT = (
    "INSERT INTO stations (name, kind, address, latitude, longitude, hours, amenities, "
    "phone, operator, offer, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _values(new: NewStation, now: datetime) -> tuple[object, ...]:
    stamp = to_db(now)
    return (
        new.name,
        new.kind,
        new.address,
        new.latitude,
        new.longitude,
        json.dumps(new.hours),
        ",".join(new.amenities),
        new.phone,
        new.operator,
        new.offer,
        stamp,
        stamp,
    )


async def add(tx: Tx, new: NewStation, now: datetime) -> int:
    cursor = await tx.execute(_INSERT, _values(new, now))
    assert cursor.lastrowid is not None
    await _index_from(tx, cursor.lastrowid - 1)
    return cursor.lastrowid


async def add_many(tx: Tx, new: list[NewStation], now: datetime) -> None:
    """Many at once (a national directory): one statement for the rows, one for the index."""
    row = await fetch_one(tx, "SELECT COALESCE(MAX(id), 0) FROM stations")
    before = int(row[0]) if row else 0
    await tx.executemany(_INSERT, [_values(station, now) for station in new])
    await _index_from(tx, before)


async def _index_from(tx: Tx, after_id: int) -> None:
    await tx.execute(
        "INSERT INTO stations_index (id, min_lat, max_lat, min_lon, max_lon) "
        "SELECT id, latitude, latitude, longitude, longitude FROM stations WHERE id > ?",
        (after_id,),
    )


async def get(tx: Tx, station_id: int) -> Station | None:
    row = await fetch_one(tx, f"SELECT {_COLUMNS} FROM stations WHERE id = ?", (station_id,))
    return _station(row) if row else None


async def update(tx: Tx, station: Station, now: datetime) -> None:
    """Changes what a station offers; its place stays (a station that moves is a new one)."""
    values = _values(station, now)
    await tx.execute(
        "UPDATE stations SET name = ?, kind = ?, address = ?, hours = ?, amenities = ?, "
        "phone = ?, operator = ?, offer = ?, updated_at = ? WHERE id = ?",
        (*values[:3], *values[5:10], values[11], station.id),
    )


async def close(tx: Tx, station_id: int, now: datetime) -> bool:
    """Closed for good (not closed for the night): kept for history, never offered again."""
    cursor = await tx.execute(
        "UPDATE stations SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        (to_db(now), station_id),
    )
    return cursor.rowcount == 1


def box(latitude: float, longitude: float, radius_m: float) -> tuple[float, float, float, float]:
    d_lat = radius_m / METRES_PER_DEGREE
    d_lon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01))
    return latitude - d_lat, latitude + d_lat, longitude - d_lon, longitude + d_lon


async def points_in_box(
    tx: Tx, latitude: float, longitude: float, radius_m: float
) -> list[tuple[int, float, float]]:
    """(id, latitude, longitude) of the stations still in business whose point lies in the box
    around a place: a superset of those within ``radius_m``, found through the R*Tree.

    The R*Tree keeps 32-bit coordinates, rounded outwards; so the query asks for boxes that
    overlap the search box, and the exact coordinates come from the stations table."""
    min_lat, max_lat, min_lon, max_lon = box(latitude, longitude, radius_m)
    rows = await fetch_all(
        tx,
        "SELECT s.id, s.latitude, s.longitude FROM stations_index i "
        "JOIN stations s ON s.id = i.id "
        "WHERE i.max_lat >= ? AND i.min_lat <= ? AND i.max_lon >= ? AND i.min_lon <= ? "
        "AND s.closed_at IS NULL",
        (min_lat, max_lat, min_lon, max_lon),
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def get_many(tx: Tx, ids: list[int]) -> dict[int, Station]:
    if not ids:
        return {}
    rows = await fetch_all(
        tx, f"SELECT {_COLUMNS} FROM stations WHERE id {IN_LIST}", (as_list(ids),)
    )
    return {row["id"]: _station(row) for row in rows}


async def near_duplicate(tx: Tx, name: str, latitude: float, longitude: float) -> bool:
    """Another open station of the same name within about 50 m."""
    near = await points_in_box(tx, latitude, longitude, 50)
    found = await get_many(tx, [station_id for station_id, _, _ in near])
    return any(s.name == name for s in found.values())


async def add_feedback(
    tx: Tx, station_id: int | None, user_id: str, text: str, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO station_feedback (station_id, user_id, text, created_at) VALUES (?,?,?,?)",
        (station_id, user_id, text, to_db(now)),
    )
