"""Places on the map, offline: the bundled polygons of Seoul's districts and legal dongs, and
the point that stands for each.

Offline, a place gets the centroid of the legal dong its address names (precision `dong`),
else of its district (`district`). That needs no network and no key, so every environment
(the emulator, CI, a laptop) geocodes the same way. Addresses still short of dong precision
may be placed online (`retention.places.online`); `retention.places.precision` counts how
many reach dong precision and says why the others do not.

Polygons: JUSO 2015 legal dongs and districts via southkorea/seoul-maps (Apache-2.0), in
`include/data/geo`. Coordinates are WGS84 longitude/latitude; this module takes and returns
(latitude, longitude) like every address API, and swaps to shapely's (x=lon, y=lat) inside.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from retention.config import BUNDLED_DATA_DIR
from retention.places.addresses import ParsedAddress

DISTRICTS_FILE = BUNDLED_DATA_DIR / "geo" / "seoul_municipalities_geo_simple.json"
DONGS_FILE = BUNDLED_DATA_DIR / "geo" / "seoul_neighborhoods_geo_simple.json"

PRECISION_ADDRESS = "address"
PRECISION_DONG = "dong"
PRECISION_DISTRICT = "district"
PRECISION_NONE = "none"
AT_LEAST_DONG = frozenset({PRECISION_ADDRESS, PRECISION_DONG})

METHOD_OFFLINE = "offline_polygons"
METHOD_CACHE = "cache"

# Roughly 1 degree of latitude; used only to turn a metre tolerance into degrees near Seoul.
_METRES_PER_DEGREE = 111_000.0

# How far outside the simplified city polygon an online result may fall and still count as
# Seoul: the bundled polygons are simplified, so a building on the city edge can land a few
# tens of metres outside them. Kakao's own legal-dong code is checked as well.
ONLINE_TOLERANCE_METRES = 100.0

# The first two digits of a legal-dong code are the province; Seoul's are 11.
SEOUL_CODE_PREFIX = "11"


@dataclass(frozen=True)
class Area:
    """A district or a legal dong: code, names, polygon and the point that stands for it."""

    code: str
    name: str
    name_en: str
    geometry: BaseGeometry
    point: Point
    """The polygon's centroid, or shapely's `representative_point()` (always inside) when the
    centroid falls outside the polygon, as it does for 권농동, 등촌동 and 양평동: a marker for
    a dong should not stand in the next dong."""

    @property
    def latitude(self) -> float:
        return self.point.y

    @property
    def longitude(self) -> float:
        return self.point.x


class Gazetteer:
    """Seoul's 25 districts and their legal dongs, by name and by code, with polygons.

    Dong names repeat across districts (신사동 in 강남구 and 은평구, 신정동 in 마포구 and
    양천구), so a dong is always looked up within its district.
    """

    def __init__(self, districts: Iterable[Area], dongs: Iterable[Area]) -> None:
        self._districts = {area.code: area for area in districts}
        self._dongs = {area.code: area for area in dongs}
        self._district_by_name = {area.name: area.code for area in self._districts.values()}
        self._dong_by_name: dict[tuple[str, str], str] = {}
        names: dict[str, set[str]] = {code: set() for code in self._districts}
        for area in self._dongs.values():
            district_code = area.code[:5]
            if district_code not in self._districts:
                raise ValueError(
                    f"legal dong {area.name} ({area.code}) belongs to no district of the gazetteer: "
                    "the first 5 digits of EMD_CD must be a SIG_CD of the district file"
                )
            self._dong_by_name[(district_code, area.name)] = area.code
            names[district_code].add(area.name)
        self._dong_names = {code: frozenset(found) for code, found in names.items()}
        self.seoul_boundary: BaseGeometry = shapely.union_all([area.geometry for area in self._districts.values()])
        shapely.prepare(self.seoul_boundary)
        self._dong_codes = list(self._dongs)
        self._dong_tree = shapely.STRtree([self._dongs[code].geometry for code in self._dong_codes])

    @classmethod
    def bundled(cls) -> Gazetteer:
        """The gazetteer of the files shipped in `include/data/geo`, loaded once per process."""
        return _bundled_gazetteer()

    @classmethod
    def from_geojson(cls, districts_file: Path, dongs_file: Path) -> Gazetteer:
        districts = [
            _area(feature, "SIG_CD", "SIG_KOR_NM", "SIG_ENG_NM", districts_file)
            for feature in _features(districts_file)
        ]
        dongs = [
            _area(feature, "EMD_CD", "EMD_KOR_NM", "EMD_ENG_NM", dongs_file) for feature in _features(dongs_file)
        ]
        return cls(districts, dongs)

    @property
    def districts(self) -> Mapping[str, Area]:
        return self._districts

    @property
    def dongs(self) -> Mapping[str, Area]:
        return self._dongs

    def district_code(self, name: str) -> str | None:
        return self._district_by_name.get(name)

    def dong_code(self, district_code: str, name: str) -> str | None:
        return self._dong_by_name.get((district_code, name))

    def dong_names(self, district_code: str) -> frozenset[str]:
        return self._dong_names.get(district_code, frozenset())

    def contains(self, latitude: float, longitude: float, *, tolerance_m: float = 0.0) -> bool:
        """Whether the point is in Seoul (on the boundary counts), or within `tolerance_m`."""
        if shapely.intersects_xy(self.seoul_boundary, longitude, latitude):
            return True
        if tolerance_m <= 0:
            return False
        return self.seoul_boundary.distance(Point(longitude, latitude)) * _METRES_PER_DEGREE <= tolerance_m

    def dong_at(self, latitude: float, longitude: float) -> str | None:
        """EMD_CD of the legal dong containing the point, or None (outside Seoul, or in one of
        the slivers the simplification left between polygons). Where simplified neighbours
        overlap (22 slivers, the largest 0.03% of a dong), the lowest code wins, so the answer
        does not depend on the order of the file."""
        hits = self._dong_tree.query(Point(longitude, latitude), predicate="intersects")
        codes = sorted(self._dong_codes[index] for index in hits)
        return codes[0] if codes else None

    def district_centroid(self, code: str) -> tuple[float, float]:
        """(latitude, longitude) standing for the district with this SIG_CD."""
        area = self._lookup(self._districts, code, "district (SIG_CD)")
        return area.latitude, area.longitude

    def dong_centroid(self, code: str) -> tuple[float, float]:
        """(latitude, longitude) standing for the legal dong with this EMD_CD."""
        area = self._lookup(self._dongs, code, "legal dong (EMD_CD)")
        return area.latitude, area.longitude

    @staticmethod
    def _lookup(areas: Mapping[str, Area], code: str, what: str) -> Area:
        try:
            return areas[code]
        except KeyError:
            raise KeyError(f"no {what} {code!r} in the gazetteer (JUSO 2015 codes, include/data/geo)") from None


@functools.cache
def _bundled_gazetteer() -> Gazetteer:
    return Gazetteer.from_geojson(DISTRICTS_FILE, DONGS_FILE)


def _features(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as error:
        raise RuntimeError(
            f"cannot read the polygons in {path}: {error}; restore the file from the repository"
        ) from error


def _area(feature: dict, code_key: str, name_key: str, english_key: str, path: Path) -> Area:
    properties = feature["properties"]
    geometry = shape(feature["geometry"])
    if not geometry.is_valid:
        # Two simplified dongs (오금동, 홍익동) cross themselves; repaired keeping only their
        # polygonal parts, so point-in-polygon and centroids behave. Area changes < 0.3%.
        geometry = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    if geometry.is_empty:
        raise RuntimeError(f"{properties.get(name_key)} ({properties.get(code_key)}) in {path} has an empty polygon")
    point = geometry.centroid
    if not geometry.contains(point):
        point = geometry.representative_point()
    return Area(
        code=str(properties[code_key]),
        name=properties[name_key],
        name_en=properties.get(english_key, ""),
        geometry=geometry,
        point=point,
    )


@dataclass(frozen=True)
class Geocode:
    """Where a place is, and how precisely we know it."""

    latitude: float | None
    longitude: float | None
    precision: str
    """`address` (an online geocoder placed the building), `dong` (legal-dong centroid),
    `district` (district centroid) or `none` (nothing resolvable: no coordinates)."""
    method: str
    """`offline_polygons`, the online geocoder's name (`kakao_local`), or `cache` when this run
    took an earlier online result from the cache."""
    district_code: str | None
    dong_code: str | None


def geocode_offline(parsed: ParsedAddress, gazetteer: Gazetteer) -> Geocode:
    """The centroid of the address's legal dong, else of its district, else nothing."""
    if parsed.dong_code:
        latitude, longitude = gazetteer.dong_centroid(parsed.dong_code)
        return Geocode(latitude, longitude, PRECISION_DONG, METHOD_OFFLINE, parsed.district_code, parsed.dong_code)
    if parsed.district_code:
        latitude, longitude = gazetteer.district_centroid(parsed.district_code)
        return Geocode(latitude, longitude, PRECISION_DISTRICT, METHOD_OFFLINE, parsed.district_code, None)
    return Geocode(None, None, PRECISION_NONE, METHOD_OFFLINE, None, None)
