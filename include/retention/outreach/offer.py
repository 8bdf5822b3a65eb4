"""The offer's places: the nearest 디지털 배움터 venue and the nearest KT plaza to a senior's home.

Home is the centroid of the customer's legal dong (`core.contacts.home_dong_code`, the bundled
polygons); places are the published `core.places`. Distances are great-circle (haversine),
in kilometres. An experience plaza (체험형 플라자) is preferred when one is within
`RETENTION_OUTREACH_EXPERIENCE_PLAZA_KM` (default 3 km) of home: it has staff and devices for
hands-on help; otherwise the nearest plaza of either kind. Agencies (대리점) are not offered.

Positions are only as precise as their geocoding: most plazas are placed at their district's
centroid offline (docs/places_geocoding.md), so each choice carries the precision of the place
it picked, and the outbox keeps it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retention.outreach.message import PLAZA_KINDS

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
VENUE_TYPE = "digital_learning_center"


@dataclass(frozen=True)
class Place:
    place_id: str
    place_type: str
    name: str
    address: str
    latitude: float
    longitude: float
    geocode_precision: str


@dataclass(frozen=True)
class Choice:
    place: Place
    distance_km: float


@dataclass(frozen=True)
class NearestPlaces:
    venue: Choice
    plaza: Choice


def experience_plaza_radius_km() -> float:
    return float(os.environ.get("RETENTION_OUTREACH_EXPERIENCE_PLAZA_KM", "3"))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS84 points, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi, half_dlambda = math.radians(lat2 - lat1) / 2, math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _nearest(home: tuple[float, float], places: Iterable[Place]) -> Choice | None:
    # Ties (several places at one district centroid) go to the smaller place_id: the same
    # inputs always give the same offer.
    choices = sorted(
        (Choice(place, haversine_km(home[0], home[1], place.latitude, place.longitude)) for place in places),
        key=lambda choice: (round(choice.distance_km, 6), choice.place.place_id),
    )
    return choices[0] if choices else None


def nearest_places(
    home: tuple[float, float], places: Sequence[Place], *, experience_within_km: float | None = None
) -> NearestPlaces:
    """The venue and the plaza to offer someone living at `home` (latitude, longitude)."""
    radius = experience_plaza_radius_km() if experience_within_km is None else experience_within_km
    venue = _nearest(home, (p for p in places if p.place_type == VENUE_TYPE))
    experience = _nearest(home, (p for p in places if p.place_type == "kt_experience_plaza"))
    plaza = experience if experience and experience.distance_km <= radius else _nearest(
        home, (p for p in places if p.place_type in PLAZA_KINDS)
    )
    if venue is None or plaza is None:
        missing = "디지털 배움터 venue" if venue is None else "KT plaza"
        raise LookupError(f"no published {missing} in core.places: run places_refresh (its seed publishes the "
                          "bundled 2023 crawl)")
    return NearestPlaces(venue=venue, plaza=plaza)
