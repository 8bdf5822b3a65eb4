"""core.places on the local emulator: the bundled seed, live crawls replacing it with history,
re-runs and backfills giving the same table, and a refused crawl leaving it as it was."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from retention.places.bundled import BUNDLED_CRAWL_DATE, bundled_places
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER
from retention.places.refresh import (
    LIVE_SCRAPE,
    NoCrawl,
    current_places,
    ensure_tables,
    land_crawl,
    refresh_from,
    scrape_and_land,
    seed_bundled_places,
)
from retention.quality.gates import DataQualityError

pytestmark = pytest.mark.emulator

DECEMBER = dt.date(2026, 12, 1)
NOVEMBER = dt.date(2026, 11, 1)
CRAWLED_AT = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)


def _table(warehouse) -> list[dict]:
    rows = warehouse.rows(
        "SELECT * EXCEPT (published_at) FROM `{{ core }}.places` ORDER BY source, crawl_date, place_id"
    )
    return rows


def _live(warehouse, source, month, places):
    landed = land_crawl(warehouse, source, month, places, origin=LIVE_SCRAPE, base_url="http://127.0.0.1:1/",
                        crawled_at=CRAWLED_AT)
    return refresh_from(warehouse, landed)


@pytest.fixture
def seeded(warehouse):
    ensure_tables(warehouse)
    seed_bundled_places(warehouse)
    return warehouse


def test_the_bundled_crawl_seeds_core_places_once_marked_with_its_source_and_date(seeded):
    places = current_places(seeded)
    counts = places.groupby("source").size().to_dict()
    # 141 venue rows list 132 venues: 9 are listed twice on the site (kept in raw, counted).
    # 4 of the 475 KT stores are in 속초, 시흥 and 인천 by their address: kept, not published.
    assert counts == {KT_STORE_FINDER: 471, DIGITAL_LEARNING_CENTERS: 132}
    prepared = seeded.rows(
        "SELECT source, COUNTIF(duplicate_of_row IS NOT NULL) AS duplicates, COUNTIF(out_of_area) AS out_of_area "
        "FROM `{{ raw }}.places_prepared` GROUP BY source ORDER BY source"
    )
    assert prepared == [
        {"source": DIGITAL_LEARNING_CENTERS, "duplicates": 9, "out_of_area": 0},
        {"source": KT_STORE_FINDER, "duplicates": 0, "out_of_area": 4},
    ]
    assert set(places["origin"]) == {"bundled_crawl"}
    assert set(places["crawl_date"]) == {BUNDLED_CRAWL_DATE}
    assert places["place_id"].is_unique
    assert places["latitude"].between(37.4, 37.72).all() and places["longitude"].between(126.76, 127.19).all()
    assert set(places["geocode_precision"]) <= {"dong", "district"}
    assert places["location"].str.fullmatch(r"37\.\d{6},12[67]\.\d{6}").all()
    missing_phone = places[(places["source"] == KT_STORE_FINDER) & places["phone"].isna()]
    assert len(missing_phone) == 5

    before = _table(seeded)
    assert seed_bundled_places(seeded) == []  # already published: nothing to seed
    assert _table(seeded) == before


def test_a_live_crawl_replaces_the_seed_and_keeps_it_as_history(seeded):
    stores = bundled_places(KT_STORE_FINDER)
    moved = dataclasses.replace(stores[1], address="서울특별시 영등포구 도신로 100 (신길동)")
    december = [stores[0], moved, *stores[3:]]  # one store closed, one moved
    published = _live(seeded, KT_STORE_FINDER, DECEMBER, december)
    assert published["rows"] == 470

    current = current_places(seeded)
    kt = current[current["source"] == KT_STORE_FINDER]
    assert len(kt) == 470 and set(kt["crawl_date"]) == {DECEMBER} and set(kt["origin"]) == {LIVE_SCRAPE}
    assert kt.set_index("name").loc[moved.name, "dong"] == "신길동"
    assert stores[2].name not in set(kt["name"])
    # The venues were not crawled: their bundled version stays current.
    assert (current["source"] == DIGITAL_LEARNING_CENTERS).sum() == 132

    history = seeded.rows(
        "SELECT crawl_date, valid_from, valid_to, COUNT(*) AS places FROM `{{ core }}.places` "
        "WHERE source = 'kt_store_finder' GROUP BY 1, 2, 3 ORDER BY 1"
    )
    assert history == [
        {"crawl_date": BUNDLED_CRAWL_DATE, "valid_from": BUNDLED_CRAWL_DATE, "valid_to": DECEMBER, "places": 471},
        {"crawl_date": DECEMBER, "valid_from": DECEMBER, "valid_to": None, "places": 470},
    ]

    # Re-running the month gives the same table; backfilling November slots in between.
    before = _table(seeded)
    _live(seeded, KT_STORE_FINDER, DECEMBER, december)
    assert _table(seeded) == before
    _live(seeded, KT_STORE_FINDER, NOVEMBER, stores)
    history = seeded.rows(
        "SELECT crawl_date, valid_to, COUNT(*) AS places FROM `{{ core }}.places` "
        "WHERE source = 'kt_store_finder' GROUP BY 1, 2 ORDER BY 1"
    )
    assert history == [
        {"crawl_date": BUNDLED_CRAWL_DATE, "valid_to": NOVEMBER, "places": 471},
        {"crawl_date": NOVEMBER, "valid_to": DECEMBER, "places": 471},
        {"crawl_date": DECEMBER, "valid_to": None, "places": 470},
    ]


def test_a_crawl_far_smaller_than_the_published_places_is_refused_and_nothing_changes(seeded):
    before = _table(seeded)
    with pytest.raises(DataQualityError, match="Place count is within"):
        _live(seeded, KT_STORE_FINDER, DECEMBER, bundled_places(KT_STORE_FINDER)[:200])
    assert _table(seeded) == before
    run = seeded.rows(
        "SELECT decision, rows_received FROM `{{ ops }}.validation_runs` WHERE suite = 'places' "
        "AND snapshot_date = @d", {"d": DECEMBER},
    )
    assert run == [{"decision": "block", "rows_received": 200}]


def test_a_place_that_cannot_be_located_is_held_back_and_counted(seeded):
    stores = bundled_places(KT_STORE_FINDER)
    lost = dataclasses.replace(stores[0], name="KT 플라자 어딘가점", address="서울특별시 어딘가로 12 1층")
    _live(seeded, KT_STORE_FINDER, DECEMBER, [*stores[1:], lost])
    kt = current_places(seeded).query("source == 'kt_store_finder'")
    assert len(kt) == 470 and lost.name not in set(kt["name"])
    held = seeded.rows(
        "SELECT source_row, reasons FROM `{{ ops }}.quarantine` WHERE suite = 'places' AND snapshot_date = @d",
        {"d": DECEMBER},
    )
    assert held == [{"source_row": 475, "reasons": "expect_column_values_to_not_be_null(latitude); "
                                                  "expect_column_values_to_be_in_set(inside_seoul)"}]


def test_the_geocode_cache_table_answers_each_address_once(warehouse):
    from retention.places.geocode import Gazetteer
    from retention.places.online import OnlineResult, geocode_places
    from retention.places.geocode_cache import WarehouseGeocodeCache

    class CountingGeocoder:
        """Stands in for Kakao (the service, not the thing under test): answers from a table."""

        name = "kakao_local"

        def __init__(self) -> None:
            self.queries: list[str] = []

        def lookup(self, query: str) -> OnlineResult | None:
            self.queries.append(query)
            return OnlineResult(37.5046, 127.0490, "1168010600")  # 강남구 대치동

    ensure_tables(warehouse)
    gazetteer, online, cache = Gazetteer.bundled(), CountingGeocoder(), WarehouseGeocodeCache(warehouse)
    address = "서울특별시 강남구 선릉로 515 KT 플라자 선릉사거리점"  # names no dong: goes online
    first = geocode_places([address, "서울시 강남구 선릉로 515 KT 플라자 선릉사거리점"], gazetteer, online, cache)
    assert online.queries == ["서울특별시 강남구 선릉로 515"]
    assert {g.precision for g in first.values()} == {"address"}
    again = geocode_places([address], gazetteer, online, WarehouseGeocodeCache(warehouse))
    assert online.queries == ["서울특별시 강남구 선릉로 515"]  # answered by core.geocode_cache
    assert again[address].dong_code == "11680106" and again[address].method == "cache"
    assert warehouse.count_rows(warehouse.table_id("core", "geocode_cache")) == 1


def test_a_past_month_is_never_scraped_again_but_re_uses_the_crawl_landed_for_it(seeded, monkeypatch):
    monkeypatch.setenv("RETENTION_KT_STORE_FINDER_URL", "http://127.0.0.1:9/never-opened")
    today = dt.date(2027, 2, 15)
    # A backfill of a month nobody crawled: skipped, never filled with today's list.
    with pytest.raises(NoCrawl, match="2026-11 is a past month and no kt_store_finder crawl was landed"):
        scrape_and_land(seeded, KT_STORE_FINDER, NOVEMBER, today=today)
    # A re-run of a crawled month validates and publishes the crawl landed then, unchanged.
    stores = bundled_places(KT_STORE_FINDER)[:-1]
    landed = _live(seeded, KT_STORE_FINDER, DECEMBER, stores)
    assert scrape_and_land(seeded, KT_STORE_FINDER, DECEMBER, today=today)["crawl_id"] == landed["crawl_id"]
    # The current month is scraped only when a site is configured.
    monkeypatch.delenv("RETENTION_KT_STORE_FINDER_URL")
    with pytest.raises(NoCrawl, match="no live site configured for kt_store_finder"):
        scrape_and_land(seeded, KT_STORE_FINDER, dt.date(2027, 2, 1), today=today)


def test_raw_keeps_every_crawl_of_a_month_and_core_the_last_validated_one(seeded):
    stores = bundled_places(KT_STORE_FINDER)
    first = _live(seeded, KT_STORE_FINDER, DECEMBER, stores)
    second = _live(seeded, KT_STORE_FINDER, DECEMBER, stores[:-1])
    assert first["crawl_id"] != second["crawl_id"]
    landed = seeded.rows(
        "SELECT crawl_id, COUNT(*) AS n FROM `{{ raw }}.place_crawls` WHERE crawl_date = @d GROUP BY 1 ORDER BY 2",
        {"d": DECEMBER},
    )
    assert [row["n"] for row in landed] == [474, 475]
    published = seeded.rows(
        "SELECT DISTINCT crawl_id FROM `{{ core }}.places` WHERE crawl_date = @d", {"d": DECEMBER}
    )
    assert published == [{"crawl_id": second["crawl_id"]}]
