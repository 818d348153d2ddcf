"""Distances and bounds. Coordinates are WGS-84 everywhere inside the bot."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
# Mainland China, Hainan and Taiwan fit in this box; a point outside it is certainly not in
# China. The box is coarse on purpose: refusing a real rider's location is worse than
# accepting a point just across a border.
CHINA_LAT = (18.0, 53.6)
CHINA_LON = (73.4, 135.1)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def in_china(latitude: float, longitude: float) -> bool:
    return CHINA_LAT[0] <= latitude <= CHINA_LAT[1] and CHINA_LON[0] <= longitude <= CHINA_LON[1]
