"""Places on the map, online: Kakao Local for the addresses the polygons place only at their
district, used only when a key is configured, each address asked once thanks to a cache.

Online is optional: offline polygons (`retention.places.geocode`) already place every Seoul
address at its district or legal dong, with no network and no key, and an online call sends
the address to a third party and spends quota. So only addresses short of dong precision go
online, and only when the Airflow connection `RETENTION_GEOCODER_CONN_ID` (default
`kakao_local`; the REST API key in its password) exists; without it everything stays offline.

What Kakao answers is checked against the polygons: a result outside Seoul (beyond a small
tolerance for the simplified city edge, or with a legal-dong code of another province) or in
another district than the address names is refused, and the place keeps its offline position.
Accepted results are kept in a cache, so a monthly run does not ask again. The cache is a
Protocol: a BigQuery table in production, `MemoryGeocodeCache` in tests.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import requests

from retention.places.addresses import ParsedAddress, geocoding_query, parse_address
from retention.places.geocode import (
    AT_LEAST_DONG,
    METHOD_CACHE,
    ONLINE_TOLERANCE_METRES,
    PRECISION_ADDRESS,
    SEOUL_CODE_PREFIX,
    Gazetteer,
    Geocode,
    geocode_offline,
)

log = logging.getLogger(__name__)


class GeocoderRefused(RuntimeError):
    """The geocoder refused our credentials (401/403): a configuration problem, not a blip."""


class GeocoderUnavailable(RuntimeError):
    """The geocoder kept failing (429/5xx/network) after the retries, or answered nonsense."""


@dataclass(frozen=True)
class OnlineResult:
    """What an online geocoder says, before we check it against the polygons."""

    latitude: float
    longitude: float
    legal_dong_code: str | None
    """10-digit 법정동 code (Kakao's `b_code`), when the geocoder gives one."""


class OnlineGeocoder(Protocol):
    name: str

    def lookup(self, query: str) -> OnlineResult | None:
        """The place of one address, None when the geocoder does not know it."""
        ...


class KakaoLocalGeocoder:
    """Kakao Local's address search (GET /v2/local/search/address.json).

    Kakao returns `documents`, best first; each has `x` (longitude), `y` (latitude),
    `address_type` and `address` (the lot address, whose `b_code` is the 10-digit legal-dong
    code; `road_address` has no `b_code`). Only `ROAD_ADDR` and `REGION_ADDR` documents are
    addresses: `REGION`/`ROAD` are a whole area or a whole road, not a building.
    """

    name = "kakao_local"
    _PATH = "/v2/local/search/address.json"
    _ADDRESS_TYPES = frozenset({"ROAD_ADDR", "REGION_ADDR"})

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://dapi.kakao.com",
        timeout_seconds: float = 10,
        *,
        conn_id: str | None = None,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key:
            raise ValueError(f"empty Kakao REST API key{_in_connection(conn_id)}: put the key in the password field")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.conn_id = conn_id
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        # Never the key: this object ends up in logs and tracebacks.
        return f"KakaoLocalGeocoder(base_url={self.base_url!r}, conn_id={self.conn_id!r})"

    def lookup(self, query: str) -> OnlineResult | None:
        payload = self._get(query)
        for document in payload.get("documents") or []:
            if document.get("address_type") not in self._ADDRESS_TYPES:
                continue
            try:
                latitude, longitude = float(document["y"]), float(document["x"])
            except (KeyError, TypeError, ValueError):
                continue
            b_code = (document.get("address") or {}).get("b_code") or None
            return OnlineResult(latitude, longitude, b_code)
        return None

    def _get(self, query: str) -> dict:
        url = self.base_url + self._PATH
        headers = {"Authorization": f"KakaoAK {self._api_key}"}
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                response = self._session.get(
                    url, params={"query": query}, headers=headers, timeout=self.timeout_seconds
                )
            except requests.RequestException as error:
                # The exception text holds the URL and the reason, never the headers.
                problem = f"{type(error).__name__}: {error}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise GeocoderRefused(
                        f"the Kakao REST API key{_in_connection(self.conn_id)} was refused (HTTP {status} "
                        f"from {url}): check the key and that the app has the Local API enabled, or delete "
                        "the connection to geocode offline only"
                    )
                if status == 200:
                    try:
                        return response.json()
                    except ValueError as error:
                        raise GeocoderUnavailable(f"Kakao address search answered non-JSON for {query!r}") from error
                if status == 400:
                    # A query Kakao cannot parse: this address stays offline, the batch goes on.
                    log.warning("Kakao address search rejected the query %r: %s", query, response.text[:200])
                    return {"documents": []}
                if status != 429 and status < 500:
                    raise GeocoderUnavailable(
                        f"Kakao address search answered HTTP {status} for {query!r}: {response.text[:200]}"
                    )
                problem = f"HTTP {status}"
                retry_after = response.headers.get("Retry-After")
            if attempt < self.max_attempts:
                self._wait(attempt, retry_after)
        raise GeocoderUnavailable(
            f"Kakao address search failed {self.max_attempts} times for {query!r} (last: {problem}); "
            "the places keep their offline positions and are tried again on the next run"
        )

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_seconds * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 30.0))
        if delay > 0:
            time.sleep(delay)


def _in_connection(conn_id: str | None) -> str:
    return f" in Airflow connection {conn_id!r}" if conn_id else ""


GEOCODER_CONN_ENV = "RETENTION_GEOCODER_CONN_ID"
DEFAULT_GEOCODER_CONN_ID = "kakao_local"
_offline_only_announced = False


def online_geocoder_from_env() -> KakaoLocalGeocoder | None:
    """A Kakao geocoder when the Airflow connection exists, else None (offline only). Outside a
    task the lookup still reads `AIRFLOW_CONN_*`, so tests configure it through the environment."""
    global _offline_only_announced
    from retention.connections import optional_connection

    conn_id = os.environ.get(GEOCODER_CONN_ENV) or DEFAULT_GEOCODER_CONN_ID
    connection = optional_connection(conn_id)
    if connection is None:
        if not _offline_only_announced:
            log.info("no geocoder key configured: offline polygons only (no Airflow connection %r)", conn_id)
            _offline_only_announced = True
        return None
    # Never log `connection` itself: its repr includes the password.
    base_url = "https://dapi.kakao.com"
    if connection.host:
        scheme = connection.schema or "https"
        base_url = connection.host if "://" in connection.host else f"{scheme}://{connection.host}"
        if connection.port:
            base_url = f"{base_url}:{connection.port}"
    return KakaoLocalGeocoder(connection.password or "", base_url, conn_id=conn_id)


# --- Cache and the whole batch -----------------------------------------------------------


class GeocodeCache(Protocol):
    """Online results kept between runs, keyed by normalised address."""

    def lookup(self, addresses: list[str]) -> dict[str, Geocode]:
        """The cached geocodes of those addresses that have one."""
        ...

    def store(self, results: dict[str, Geocode]) -> None:
        """Keep these (replacing an earlier entry of the same address)."""
        ...


class MemoryGeocodeCache:
    """A GeocodeCache in a dict, for tests and one-off scripts."""

    def __init__(self, entries: Mapping[str, Geocode] | None = None) -> None:
        self.entries: dict[str, Geocode] = dict(entries or {})

    def lookup(self, addresses: list[str]) -> dict[str, Geocode]:
        return {address: self.entries[address] for address in addresses if address in self.entries}

    def store(self, results: dict[str, Geocode]) -> None:
        self.entries.update(results)


def geocode_places(
    addresses: list[str],
    gazetteer: Gazetteer,
    online: OnlineGeocoder | None = None,
    cache: GeocodeCache | None = None,
) -> dict[str, Geocode]:
    """Geocode each address (keys as given): offline first; then, for Seoul addresses short of
    dong precision, the cache and, for what the cache lacks, the online geocoder.

    Only those short of dong precision go online: a dong the address names itself is already
    right, every online call sends the address to a third party and spends quota, and the
    stated goal is dong precision. Only accepted online results are cached, so an address
    Kakao did not find is asked again next run (a few calls a month). A refused key raises
    (someone must fix the connection); a geocoder that keeps failing is logged and the rest
    of the batch stays offline. Whatever was resolved before an error is still cached.
    """
    parsed = {address: parse_address(address, gazetteer) for address in dict.fromkeys(addresses)}
    results = {address: geocode_offline(found, gazetteer) for address, found in parsed.items()}
    if online is None and cache is None:
        return results

    pending: dict[str, list[str]] = {}  # normalised address -> the addresses as given
    for address, found in parsed.items():
        if found.in_seoul and results[address].precision not in AT_LEAST_DONG:
            pending.setdefault(found.normalised, []).append(address)
    if cache is not None and pending:
        for key, geocode in cache.lookup(list(pending)).items():
            for address in pending.pop(key, []):
                results[address] = dataclasses.replace(geocode, method=METHOD_CACHE)
    if online is None or not pending:
        return results

    fresh: dict[str, Geocode] = {}
    try:
        for key, originals in pending.items():
            try:
                result = online.lookup(geocoding_query(parsed[originals[0]]))
            except GeocoderUnavailable as error:
                log.warning("online geocoding stopped, the remaining places stay offline: %s", error)
                break
            accepted = _accept_online(result, parsed[originals[0]], gazetteer, online.name)
            if accepted is not None:
                fresh[key] = accepted
                for address in originals:
                    results[address] = accepted
    finally:
        if cache is not None and fresh:
            cache.store(fresh)
    return results


def _accept_online(
    result: OnlineResult | None, parsed: ParsedAddress, gazetteer: Gazetteer, method: str
) -> Geocode | None:
    """The online result as a Geocode, or None (logged) when the polygons contradict it."""
    if result is None:
        log.info("%s does not know %r: kept the offline position", method, parsed.normalised)
        return None
    b_code = result.legal_dong_code or ""
    if (b_code and not b_code.startswith(SEOUL_CODE_PREFIX)) or not gazetteer.contains(
        result.latitude, result.longitude, tolerance_m=ONLINE_TOLERANCE_METRES
    ):
        log.warning(
            "%s placed %r at (%.6f, %.6f), legal-dong code %s, outside Seoul: refused, kept the offline position",
            method,
            parsed.normalised,
            result.latitude,
            result.longitude,
            b_code or "none",
        )
        return None
    dong_code = b_code[:8] if b_code[:8] in gazetteer.dongs else gazetteer.dong_at(result.latitude, result.longitude)
    district_code = dong_code[:5] if dong_code else parsed.district_code
    if parsed.district_code and district_code != parsed.district_code:
        log.warning(
            "%s placed %r in district %s, but the address names %s (%s): refused, kept the offline position",
            method,
            parsed.normalised,
            district_code,
            parsed.district,
            parsed.district_code,
        )
        return None
    return Geocode(result.latitude, result.longitude, PRECISION_ADDRESS, method, district_code, dong_code)
