"""Distances and bounds. Coordinates are WGS-84 everywhere inside the bot."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
SERVICE_AREA: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((18.0, 53.6), (73.4, 135.1)),
    ((3.3, 18.0), (107.5, 119.0)),
)
"""(latitudes, longitudes) of the boxes the bot serves: the first holds the mainland, Hainan
and Taiwan; the second the islands of the South China Sea (Xisha with Sansha's Yongxing
Island, Zhongsha with Huangyan Island, Nansha). The boxes are coarse on purpose: refusing a
real rider's location is worse than accepting a point across the water. Outside them a place
is "outside the service area", never anything about borders."""


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def in_service_area(latitude: float, longitude: float) -> bool:
    return any(
        lats[0] <= latitude <= lats[1] and lons[0] <= longitude <= lons[1]
        for lats, lons in SERVICE_AREA
    )


# Open sea inside the first box, as (latitude, longitude) rings. Each edge keeps 35 km or more from
# every coast and inhabited island (Zhoushan, Changshan, Matsu, Wanshan, Hainan, Penghu…), so a
# rider on land or a ferry pier is never told they are at sea; a point a few kilometres
# offshore is simply accepted. An island inside a ring that is not served (Ulleungdo, the Daito
# islands) is answered as sea, which tells nobody anything about borders.
SEAS: tuple[tuple[tuple[float, float], ...], ...] = (
    # Bohai
    ((38.5, 119.2), (39.4, 119.3), (39.7, 120.2), (39.5, 120.9), (38.7, 120.6), (38.3, 119.6)),
    # Yellow Sea and East China Sea, between the coast and Korea, Japan and Taiwan
    (
        (37.0, 123.5),
        (36.0, 125.0),
        (34.5, 124.6),
        (33.0, 125.3),
        (31.5, 126.0),
        (29.5, 125.5),
        (26.5, 123.5),
        (26.0, 122.3),
        (26.6, 121.2),
        (27.6, 121.6),
        (28.6, 122.4),
        (29.5, 122.8),
        (30.6, 123.3),
        (31.5, 122.8),
        (32.5, 122.6),
        (34.0, 121.4),
        (35.2, 120.8),
        (36.2, 122.3),
    ),
    # South China Sea, north of the box's edge: off Hainan, Guangdong, Taiwan and Luzon
    (
        (18.2, 110.6),
        (19.3, 111.5),
        (20.6, 111.8),
        (21.2, 112.3),
        (21.4, 113.5),
        (21.6, 114.5),
        (22.0, 115.5),
        (22.5, 116.8),
        (22.6, 118.5),
        (21.6, 119.6),
        (20.5, 120.2),
        (18.7, 119.5),
        (18.0, 119.0),
        (18.0, 111.5),
    ),
    # The Pacific east of Taiwan and south of Japan
    (
        (18.0, 123.0),
        (21.5, 122.6),
        (23.5, 122.4),
        (24.0, 122.5),
        (23.3, 124.0),
        (23.5, 131.0),
        (26.0, 132.5),
        (30.0, 133.5),
        (30.0, 135.1),
        (18.0, 135.1),
    ),
    # The Sea of Japan (East Sea), west of the box's edge
    (
        (36.2, 130.3),
        (38.5, 129.6),
        (40.5, 130.5),
        (41.8, 131.5),
        (42.2, 134.0),
        (42.7, 135.1),
        (36.3, 135.1),
        (37.0, 133.3),
        (35.8, 131.5),
        (35.2, 130.4),
    ),
)


def _inside(latitude: float, longitude: float, ring: tuple[tuple[float, float], ...]) -> bool:
    """Even-odd rule: a ray eastwards from the point crosses the ring's edges an odd number
    of times when the point is inside. Degrees are flat enough at this scale."""
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (lat1 > latitude) != (lat2 > latitude):
            crossing = lon1 + (latitude - lat1) / (lat2 - lat1) * (lon2 - lon1)
            if longitude < crossing:
                inside = not inside
    return inside


def at_sea(latitude: float, longitude: float) -> bool:
    return any(_inside(latitude, longitude, ring) for ring in SEAS)


def out_of_bounds(latitude: float, longitude: float) -> str | None:
    """Why a point cannot be where a rider is: ``outside_area``, ``at_sea``, or None."""
    if not in_service_area(latitude, longitude):
        return "outside_area"
    return "at_sea" if at_sea(latitude, longitude) else None


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
