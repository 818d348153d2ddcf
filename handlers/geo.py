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


# GCJ-02 ("Mars coordinates"), the datum Chinese map apps publish: a published, deterministic
# offset from WGS-84 of a few hundred metres. The forward formula is public; the inverse is
# found by iterating it, which converges to well under a metre in a few steps.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323


def _offset(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    shared = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += shared
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += shared
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = math.radians(lat)
    magic = 1 - _KRASOVSKY_EE * math.sin(rad) ** 2
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * math.sqrt(magic)) * math.pi
    )
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    d_lat, d_lon = _offset(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    guess_lat, guess_lon = lat, lon
    for _ in range(10):
        shifted_lat, shifted_lon = wgs84_to_gcj02(guess_lat, guess_lon)
        guess_lat += lat - shifted_lat
        guess_lon += lon - shifted_lon
    return guess_lat, guess_lon
