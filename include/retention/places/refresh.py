"""The monthly places refresh, one source at a time: land, prepare, validate, publish.

Write-audit-publish, like the weekly files: a crawl (live scrape, the owner's file for the
month, see `files`, or the bundled 2023 crawl) is landed as shown in `raw.place_crawls`;
prepared (address normalised, district and legal dong, a position) in `raw.places_prepared`;
checked by the Great Expectations suite `places` (results and quarantined rows in `ops`); and
only then published to `core.places` as the source's current version, the previous one kept
with its `valid_to`. Every step replaces the rows of its (source, crawl month): a re-run of the
month gives the same tables.

Until a live crawl of a source has been published, `core.places` holds the bundled crawl
(`seed_bundled_places`), so outreach always has places to point to; a failed or refused
scrape leaves whatever was published last.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Sequence

from retention.places.bundled import BUNDLED_CRAWL_DATE, bundled_places
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER, ScrapedPlace
from retention.quality import records
from retention.quality.gates import DataQualityError, SuiteContext, Thresholds, summary_table, validate
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

SOURCES = (KT_STORE_FINDER, DIGITAL_LEARNING_CENTERS)
SUITE = "places"
LIVE_SCRAPE = "live_scrape"
BUNDLED_CRAWL = "bundled_crawl"

PLACE_TYPES = {
    "[대리점]": "kt_agency",
    "[플라자]": "kt_plaza",
    "[체험형 플라자]": "kt_experience_plaza",
    "디지털 배움터": "digital_learning_center",
}
_ID_PREFIX = {KT_STORE_FINDER: "kt", DIGITAL_LEARNING_CENTERS: "dlc"}
# Every venue of the learning-centre list is one type; its files have no type column.
_DEFAULT_TYPE_LABEL = {DIGITAL_LEARNING_CENTERS: "디지털 배움터"}
# An address that names another city or province: the site listed it under Seoul (the 2023 KT
# crawl has four, in 속초, 시흥 and 인천). Kept and counted, never published: the outreach is
# for Seoul. An address naming no city at all is not assumed elsewhere; validation judges it.
_OTHER_REGION = re.compile(
    r"^(경기|인천|강원|충청|충북|충남|전라|전북|전남|경상|경북|경남|부산|대구|광주|대전|울산|세종|제주)"
)

TABLE_DDL = (
    "raw/place_crawls/create.sql",
    "raw/places_prepared/create.sql",
    "core/places/create.sql",
    "core/geocode_cache/create.sql",
)


def ensure_tables(warehouse: Warehouse) -> None:
    """Create what is missing, then bring older tables up to this release (the migrations)."""
    from retention.migrations import migrate

    warehouse.ensure_datasets()
    for path in (*TABLE_DDL, *records.TABLE_DDL):
        warehouse.run_file(path)
    migrate(warehouse, applied_by="places_refresh")
    from retention import table_options

    table_options.apply_all(warehouse, ("raw",))


# -- land ------------------------------------------------------------------------------------


def land_crawl(
    warehouse: Warehouse,
    source: str,
    crawl_date: dt.date,
    places: Sequence[ScrapedPlace],
    *,
    origin: str,
    base_url: str | None,
    crawled_at: dt.datetime,
) -> dict:
    """Keep a crawl as shown. Its id is a hash of the rows, so landing the same results twice
    gives the same id and replaces its own rows; a different crawl of the same month is kept
    beside it (raw keeps every crawl, including one that validation later refuses)."""
    if not places:
        raise DataQualityError(
            f"the {source} crawl for {crawl_date:%Y-%m} returned no places (from {base_url or 'the bundled file'}); "
            "nothing was landed and core.places keeps the last published places"
        )
    content = json.dumps([p.as_dict() for p in places], ensure_ascii=False, sort_keys=True)
    crawl_id = f"{source}-{crawl_date:%Y%m}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"
    loaded_at = dt.datetime.now(dt.UTC)
    rows = [
        {
            "crawl_date": crawl_date, "source": source, "crawl_id": crawl_id, "origin": origin, "base_url": base_url,
            "crawled_at": crawled_at, "source_row": index, "type_label": place.type_label, "name": place.name,
            "address": place.address, "phone": place.phone, "detail_url": place.detail_url,
            "page": place.page or None, "position": place.position, "loaded_at": loaded_at,
        }
        for index, place in enumerate(places, start=1)
    ]
    warehouse.replace_rows(
        warehouse.table_id("raw", "place_crawls"), rows,
        {"crawl_date": crawl_date, "source": source, "crawl_id": crawl_id},
    )
    log.info("landed %s %s places for %s as crawl %s (%s)", len(rows), source, crawl_date, crawl_id, origin)
    return {"source": source, "crawl_date": crawl_date.isoformat(), "crawl_id": crawl_id, "rows": len(rows),
            "origin": origin}


class NoCrawl(Exception):
    """Nothing to crawl for this source and month (the DAG skips the branch); says why."""


def scrape_and_land(
    warehouse: Warehouse, source: str, crawl_date: dt.date, *, today: dt.date | None = None
) -> dict:
    """Scrape the live site of `source` and land what it shows.

    A site shows today's places: scraping it for a past month (a re-run or backfill of that
    month) would rewrite the month's history with today's list. So a past month re-uses the
    crawl landed for it back then (validated and published again, the same result), and a past
    month never crawled is skipped. Raises NoCrawl when there is nothing to do."""
    from retention.places.scrapers import ScrapeSettings, scrape
    from retention.schedule import crawl_month

    this_month = today.replace(day=1) if today else crawl_month(dt.datetime.now(dt.UTC))
    if crawl_date < this_month:
        landed = latest_landed_crawl(warehouse, source, crawl_date)
        if landed is None:
            raise NoCrawl(f"{crawl_date:%Y-%m} is a past month and no {source} crawl was landed for it: a site "
                          "shows today's places, so it is not scraped for an earlier month; core.places is unchanged")
        log.info("%s is a past month: re-using crawl %s landed for it", crawl_date, landed["crawl_id"])
        return landed
    settings = ScrapeSettings.from_env(source)
    if not settings.base_url:
        raise NoCrawl(f"no live site configured for {source} (set its RETENTION_*_URL, see README, 'Places'): "
                      "core.places keeps what it has")
    crawled_at = dt.datetime.now(dt.UTC)
    places = scrape(source, settings)
    return land_crawl(warehouse, source, crawl_date, places, origin=LIVE_SCRAPE, base_url=settings.base_url,
                      crawled_at=crawled_at)


def latest_landed_crawl(
    warehouse: Warehouse, source: str, crawl_date: dt.date, *, origin: str | None = None, crawl_id: str | None = None
) -> dict | None:
    """The crawl of `source` landed last for the month (of that origin, or that id), as
    `land_crawl` described it."""
    filters = {"origin": origin, "crawl_id": crawl_id}
    where = "".join(f" AND {column} = @{column}" for column, value in filters.items() if value is not None)
    rows = warehouse.rows(
        "SELECT crawl_id, ANY_VALUE(origin) AS origin, COUNT(*) AS n, MAX(loaded_at) AS loaded_at "
        f"FROM `{{{{ raw }}}}.place_crawls` WHERE crawl_date = @d AND source = @source{where} "
        "GROUP BY crawl_id ORDER BY loaded_at DESC LIMIT 1",
        {"d": crawl_date, "source": source, **{k: v for k, v in filters.items() if v is not None}},
        source="raw.place_crawls",
    )
    if not rows:
        return None
    return {"source": source, "crawl_date": crawl_date.isoformat(), "crawl_id": rows[0]["crawl_id"],
            "rows": rows[0]["n"], "origin": rows[0]["origin"]}


# -- prepare ---------------------------------------------------------------------------------


def prepare_crawl(warehouse: Warehouse, source: str, crawl_date: dt.date, crawl_id: str):
    """Normalise, locate and geocode a landed crawl into `raw.places_prepared`; returns the rows."""
    import pandas as pd

    from retention.places.addresses import parse_address
    from retention.places.geocode import Gazetteer
    from retention.places.geocode_cache import WarehouseGeocodeCache
    from retention.places.online import geocode_places, online_geocoder_from_env

    crawl = warehouse.dataframe(
        "SELECT * FROM `{{ raw }}.place_crawls` WHERE crawl_date = @crawl_date AND source = @source "
        "AND crawl_id = @crawl_id ORDER BY source_row",
        {"crawl_date": crawl_date, "source": source, "crawl_id": crawl_id},
        source="raw.place_crawls",
    )
    if crawl.empty:
        raise DataQualityError(
            f"no landed rows for crawl {crawl_id} ({source}, {crawl_date}) in raw.place_crawls: "
            "clear the run from its scrape or seed task"
        )
    gazetteer = Gazetteer.bundled()
    # A file without an address column lands NULLs, which pandas reads back as NaN.
    parsed = [parse_address(address if isinstance(address, str) else "", gazetteer) for address in crawl["address"]]
    # The cache is read even without a geocoder key: positions resolved online in earlier
    # months stay, rather than falling back to district centroids when a key is removed.
    geocodes = geocode_places(
        [p.normalised for p in parsed], gazetteer, online=online_geocoder_from_env(),
        cache=WarehouseGeocodeCache(warehouse),
    )
    prepared_at = dt.datetime.now(dt.UTC)
    listed = crawl.to_dict("records")
    place_ids = _place_ids(source, [_clean(record["name"]) for record in listed], parsed)
    rows, seen = [], {}
    for record, address, place_id in zip(listed, parsed, place_ids, strict=True):
        name = _clean(record["name"])
        type_label = _clean(record["type_label"]) or _DEFAULT_TYPE_LABEL.get(source)
        key = (place_id, address.normalised)
        duplicate_of = seen.get(key)
        seen.setdefault(key, record["source_row"])
        geocode = geocodes.get(address.normalised)
        located = geocode is not None and geocode.precision != "none"
        rows.append({
            "crawl_date": crawl_date, "source": source, "crawl_id": crawl_id, "source_row": record["source_row"],
            "place_id": place_id, "duplicate_of_row": duplicate_of,
            "out_of_area": not address.in_seoul and bool(_OTHER_REGION.match(address.normalised)),
            "place_type": PLACE_TYPES.get(type_label or "") or PLACE_TYPES.get(f"[{type_label}]"),
            "type_label": type_label, "name": name, "address": _clean(record["address"]),
            "address_normalised": address.normalised or None, "address_truncated": address.truncated,
            "district": address.district, "district_code": address.district_code,
            "dong": address.dong, "dong_code": address.dong_code,
            "latitude": geocode.latitude if located else None, "longitude": geocode.longitude if located else None,
            "geocode_precision": geocode.precision if geocode else "none",
            "geocode_method": geocode.method if geocode else None,
            "phone": _clean(record["phone"]), "detail_url": _clean(record["detail_url"]),
            "origin": record["origin"], "crawled_at": record["crawled_at"], "prepared_at": prepared_at,
            "source_uri": _clean(record["source_uri"]) or _clean(record["base_url"]),
            "file_error": _clean(record["file_error"]),
        })
    warehouse.replace_rows(
        warehouse.table_id("raw", "places_prepared"), rows,
        {"crawl_date": crawl_date, "source": source, "crawl_id": crawl_id},
    )
    frame = pd.DataFrame(rows)
    frame["inside_seoul"] = [
        row["latitude"] is not None and gazetteer.contains(row["latitude"], row["longitude"]) for row in rows
    ]
    duplicates, out_of_area = int(frame["duplicate_of_row"].notna().sum()), int(frame["out_of_area"].sum())
    if duplicates:
        repeats = frame[frame["duplicate_of_row"].notna()]
        log.warning("%s: %s rows list a place already listed earlier in the crawl (kept in raw, published once): %s",
                    crawl_id, duplicates, "; ".join(f"row {r.source_row} repeats row {int(r.duplicate_of_row)} ({r.name})"
                                                    for r in repeats.itertuples()))
    if out_of_area:
        log.warning("%s: %s places are outside Seoul by their address (kept in raw.places_prepared, not published): %s",
                    crawl_id, out_of_area, "; ".join(frame.loc[frame["out_of_area"], "address"]))
    return frame


def _place_ids(source: str, names: list[str | None], parsed: list) -> list[str | None]:
    """`kt:<name>`; a name two districts share in one crawl gets its district, `kt:<name> (강남구)`:
    they are two places (a store name is unique within a district, not across Seoul)."""
    districts: dict[str, set] = {}
    for name, address in zip(names, parsed, strict=True):
        districts.setdefault(name, set()).add(address.district)
    return [
        None if not name else f"{_ID_PREFIX[source]}:{name}" + (
            f" ({address.district or '?'})" if len(districts[name]) > 1 else "")
        for name, address in zip(names, parsed, strict=True)
    ]


def _clean(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = " ".join(str(value).split())
    return text or None


# -- validate and publish ---------------------------------------------------------------------


def current_count(warehouse: Warehouse, source: str) -> int:
    return warehouse.count_rows(warehouse.table_id("core", "places"), "source = @s AND valid_to IS NULL", {"s": source})


def validate_crawl(
    warehouse: Warehouse, source: str, crawl_date: dt.date, crawl_id: str, dag_run_id: str | None = None
) -> dict:
    """Prepare and check a landed crawl; record the results in `ops`. Raises DataQualityError
    (after recording) when it must not replace the published places."""
    from retention.places.files import landed_place_file
    from retention.quality.suites.places import suite_for

    frame = prepare_crawl(warehouse, source, crawl_date, crawl_id)
    previous = current_count(warehouse, source)
    context = SuiteContext(thresholds=Thresholds.from_env(), snapshot_date=crawl_date,
                           previous_row_count=previous or None)
    place_file = landed_place_file(warehouse, source, crawl_date, crawl_id)
    suite = suite_for(frame, place_file)
    where = f"{source} crawl {crawl_id}" + (f" (file {place_file.source_uri})" if place_file else "")
    report = validate(frame, suite, context, source=where)
    records.record(warehouse, report, frame, snapshot_date=crawl_date, load_id=crawl_id, source_uri=where,
                   dag_run_id=dag_run_id)
    log.info("data quality of %s:\n%s", where, summary_table(report))
    checked = suite.prepare(frame, context)
    dong_share = float(checked["geocode_precision"].isin(["address", "dong"]).mean()) if len(checked) else 0.0
    if report.decision == "block":
        raise DataQualityError(report.message + "; core.places keeps the last published places")
    if report.decision == "publish_with_warnings":
        log.warning(report.message)
    return {"decision": report.decision, "rows_quarantined": report.rows_quarantined,
            "duplicates": int(frame["duplicate_of_row"].notna().sum()),
            "repeated": [{"row": int(r["source_row"]), "first_row": int(r["duplicate_of_row"]), "name": r["name"]}
                         for r in frame[frame["duplicate_of_row"].notna()].to_dict("records")],
            "out_of_area": int(frame["out_of_area"].sum()),
            "dong_precision_share": round(dong_share, 4),
            "message": report.message}


def publish_crawl(warehouse: Warehouse, source: str, crawl_date: dt.date, crawl_id: str) -> dict:
    """Make a validated crawl the source's published places (one MERGE, history kept)."""
    decision = records.decision_for(warehouse, SUITE, crawl_date, crawl_id)
    if decision not in ("publish", "publish_with_warnings"):
        raise DataQualityError(
            f"crawl {crawl_id} is not cleared for publishing (validation: {decision or 'never ran'}); "
            "core.places keeps the last published places"
        )
    later = warehouse.rows(
        "SELECT MIN(crawl_date) AS next_crawl FROM `{{ core }}.places` WHERE source = @source AND crawl_date > @d",
        {"source": source, "d": crawl_date}, source="core.places",
    )
    next_crawl = later[0]["next_crawl"] if later and later[0]["next_crawl"] else dt.date(9999, 12, 31)
    warehouse.run_file("core/places/publish.sql", {
        "source": source, "crawl_date": crawl_date, "crawl_id": crawl_id, "next_crawl_date": next_crawl,
        "published_at": dt.datetime.now(dt.UTC),
    })
    published = warehouse.count_rows(
        warehouse.table_id("core", "places"), "source = @s AND crawl_date = @d", {"s": source, "d": crawl_date}
    )
    log.info("published %s %s places from crawl %s (valid from %s)", published, source, crawl_id, crawl_date)
    return {"source": source, "crawl_date": crawl_date.isoformat(), "crawl_id": crawl_id, "rows": published}


def refresh_from(warehouse: Warehouse, landed: dict, dag_run_id: str | None = None) -> dict:
    """Validate and publish a landed crawl (both steps; the DAG runs them as separate tasks)."""
    crawl_date = dt.date.fromisoformat(landed["crawl_date"])
    validation = validate_crawl(warehouse, landed["source"], crawl_date, landed["crawl_id"], dag_run_id)
    return {**publish_crawl(warehouse, landed["source"], crawl_date, landed["crawl_id"]), "validation": validation}


def seed_bundled_places(warehouse: Warehouse, dag_run_id: str | None = None) -> list[dict]:
    """Publish the bundled 2023 crawl of every source that has no published places yet."""
    seeded = []
    for source in SOURCES:
        if current_count(warehouse, source):
            continue
        landed = land_crawl(
            warehouse, source, BUNDLED_CRAWL_DATE, bundled_places(source), origin=BUNDLED_CRAWL, base_url=None,
            crawled_at=dt.datetime(2023, 11, 1, tzinfo=dt.UTC),
        )
        seeded.append(refresh_from(warehouse, landed, dag_run_id))
    return seeded


def current_places(warehouse: Warehouse):
    """The published places (every source's current version), for the map and for outreach."""
    return warehouse.dataframe(
        "SELECT * FROM `{{ core }}.places` WHERE valid_to IS NULL ORDER BY source, place_type, name",
        source="core.places",
    )


def places_as_of(warehouse: Warehouse, month: dt.date):
    """The places that were the published ones in `month` (each source's version valid then)."""
    return warehouse.dataframe(
        "SELECT * FROM `{{ core }}.places` WHERE valid_from <= @month AND (valid_to IS NULL OR valid_to > @month) "
        "ORDER BY source, place_type, name",
        {"month": month}, source="core.places",
    )


def latest_crawl_month(warehouse: Warehouse) -> dt.date | None:
    rows = warehouse.rows("SELECT MAX(crawl_date) AS latest FROM `{{ core }}.places`", source="core.places")
    return rows[0]["latest"] if rows else None
