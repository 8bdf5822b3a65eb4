"""The place scrapers against loopback copies of both sites, driving a real headless Chromium.

Every scrape goes through `scrape()`, the entry point the monthly refresh uses: start the
browser, walk every page, close the browser. The fixture sites (tests/place_sites) are filled
from the bundled 2023 crawls, so a full walk must return those rows exactly, and as many as the
site announces. After each test, no browser of ours may be left running and no temporary
profile left on disk.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from place_sites import (
    REAL_LEARNING_CENTERS_ORIGIN,
    PlaceSites,
    bundled_kt_stores,
    bundled_learning_centers,
    serve_place_sites,
)
from retention.places.browser import PROFILE_PREFIX, BrowserUnavailableError
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER
from retention.places.scrapers import (
    DEFAULT_USER_AGENT,
    LayoutChangedError,
    ScrapeError,
    ScrapeSettings,
    scrape,
)

BOTH_SOURCES = pytest.mark.parametrize("source", [KT_STORE_FINDER, DIGITAL_LEARNING_CENTERS])
SCRAPER_FILES = {
    KT_STORE_FINDER: "include/retention/places/scrapers/kt_store_finder.py",
    DIGITAL_LEARNING_CENTERS: "include/retention/places/scrapers/digital_learning_centers.py",
}
ITEM_SELECTORS = {KT_STORE_FINDER: "li.store-item", DIGITAL_LEARNING_CENTERS: "li.place-item"}
ADDRESS_SELECTORS = {KT_STORE_FINDER: ".store-addr", DIGITAL_LEARNING_CENTERS: ".place-addr"}


def settings_for(sites: PlaceSites, source: str, **changes: object) -> ScrapeSettings:
    """Settings for a fast test run: no politeness pause, no retries, unless the test asks."""
    url = sites.kt_store_finder_url if source == KT_STORE_FINDER else sites.learning_centers_url
    values: dict = {"page_delay_seconds": 0, "timeout_seconds": 10, "retries": 0, "backoff_seconds": 0, **changes}
    return ScrapeSettings(base_url=url, **values)


def expected_rows(source: str, sites: PlaceSites, rows: int | None = None) -> list[tuple]:
    """(type label, name, address, phone, detail link) of the bundled crawl, as the scraper should return them."""
    if source == KT_STORE_FINDER:
        return [(store["장소타입"], store["장소"], store["주소"], store["전화번호"] or None, None)
                for store in bundled_kt_stores()[:rows]]
    return [("디지털 배움터", venue["장소명"], venue["주소명"], None,
             venue["상세페이지"].replace(REAL_LEARNING_CENTERS_ORIGIN, sites.learning_centers_origin))
            for venue in bundled_learning_centers()[:rows]]


def rows_of(places: list) -> list[tuple]:
    return [(place.type_label, place.name, place.address, place.phone, place.detail_url) for place in places]


def our_browser_processes() -> list[str]:
    """Live Chromium processes using one of our temporary profiles, and chromedriver children of this process."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((process / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
        if PROFILE_PREFIX in command or (parent == os.getpid() and "chromedriver" in command):
            found.append(f"{process.name}: {command[:150]}")
    return found


def requests_for_page(sites: PlaceSites, source: str, page: int) -> list:
    """The requests of `source`'s result list for one page (retries included)."""
    return [request for request in sites.result_requests(source) if request.page == page]


def pages_asked_for(sites: PlaceSites, source: str) -> list[int]:
    """The result pages the scraper asked for, in order; the venue list's first GET (the page as
    opened, before the scraper searches) is not one of them."""
    return [request.page for request in sites.result_requests(source)
            if not (source == DIGITAL_LEARNING_CENTERS and request.method == "GET")]


def warnings_of(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]


@pytest.fixture(autouse=True)
def failure_screenshots_in_tmp(tmp_path, monkeypatch):
    """A failed scrape saves a screenshot to the artifact store: keep it out of the repository's .local/."""
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))


@pytest.fixture(autouse=True)
def no_browser_left_behind():
    profiles = Path(tempfile.gettempdir())
    before = set(profiles.glob(f"{PROFILE_PREFIX}*"))
    yield
    deadline = time.monotonic() + 5  # the browser's last processes exit a moment after quit()
    while (left := our_browser_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"browser processes left running: {left}"
    assert set(profiles.glob(f"{PROFILE_PREFIX}*")) <= before, "temporary browser profile left on disk"


def test_kt_walk_returns_every_bundled_store_in_order():
    with serve_place_sites(render_delay_ms=20) as sites:
        places = scrape(KT_STORE_FINDER, settings_for(sites, KT_STORE_FINDER))

    assert rows_of(places) == expected_rows(KT_STORE_FINDER, sites)
    assert len(places) == 475
    assert [place.phone for place in places].count(None) == 5
    assert [(place.page, place.position) for place in places] == [(i // 10 + 1, i % 10 + 1) for i in range(475)]
    assert places[-1].page == 48
    assert {place.source for place in places} == {KT_STORE_FINDER}


def test_venue_walk_returns_every_bundled_venue_with_absolute_detail_links():
    with serve_place_sites(render_delay_ms=20) as sites:
        places = scrape(DIGITAL_LEARNING_CENTERS, settings_for(sites, DIGITAL_LEARNING_CENTERS))
        with urlopen(places[0].detail_url, timeout=5) as detail:  # loopback: the fixture's detail page
            assert places[0].name in detail.read().decode("utf-8")

    assert rows_of(places) == expected_rows(DIGITAL_LEARNING_CENTERS, sites)
    assert len(places) == 141
    assert places[0].detail_url == f"{sites.learning_centers_origin}/edc/crse/plcdtl.do?&sch_edc_place_id=20210001574"
    assert [(place.page, place.position) for place in places] == [(i // 10 + 1, i % 10 + 1) for i in range(141)]
    assert places[-1].page == 15
    assert {place.source for place in places} == {DIGITAL_LEARNING_CENTERS}


@BOTH_SOURCES
def test_scraper_announces_itself_and_pauses_between_pages(source):
    # Results render at once, so pages follow each other within ~0.2 s unless the scraper pauses.
    with serve_place_sites(render_delay_ms=0, kt_rows=30, venue_rows=30) as sites:
        places = scrape(source, settings_for(sites, source, page_delay_seconds=0.3))

    assert rows_of(places) == expected_rows(source, sites, rows=30)
    assert {request.user_agent for request in sites.requests if request.site == source} == {DEFAULT_USER_AGENT}
    fetched = sites.result_requests(source)
    assert sorted({request.page for request in fetched}) == [1, 2, 3]
    for page in (1, 2):
        last_of_page = max(request.at for request in fetched if request.page == page)
        first_of_next = min(request.at for request in fetched if request.page == page + 1)
        assert first_of_next - last_of_page >= 0.3, f"page {page + 1} was requested too soon after page {page}"


@BOTH_SOURCES
def test_server_error_on_a_page_is_retried_with_backoff(source):
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, failing_page=2, failures=2) as sites:
        places = scrape(source, settings_for(sites, source, retries=3, backoff_seconds=0.3))

    assert rows_of(places) == expected_rows(source, sites, rows=25)
    page_two = requests_for_page(sites, source, 2)
    assert [request.status for request in page_two] == [500, 500, 200]
    # From each error to the next request of any kind (the venue scraper first searches anew).
    requests = [request for request in sites.requests if request.site == source]
    first_pause, second_pause = (requests[i + 1].at - request.at for i, request in enumerate(requests)
                                 if request.status == 500)
    assert first_pause >= 0.3
    assert second_pause >= 0.6, "the backoff doubles before each further retry"


@BOTH_SOURCES
def test_a_site_that_keeps_failing_ends_in_a_scrape_error_that_says_where(source):
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, failing_page=2, failures=10) as sites:
        settings = settings_for(sites, source, retries=1)
        with pytest.raises(ScrapeError) as raised:
            scrape(source, settings)

    message = str(raised.value)
    assert f"page 2 of {source} ({settings.base_url})" in message
    assert "after 2 attempts" in message
    assert "500" in message
    assert "core.places keeps the last good crawl" in message
    assert len(requests_for_page(sites, source, 2)) == 2


@BOTH_SOURCES
def test_a_changed_layout_stops_the_scrape_without_retrying(source, tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    # At the sites' default render delay (~300 ms): pages 1 and 2 must be waited for, not guessed.
    with serve_place_sites(kt_rows=40, venue_rows=40, broken_page=3) as sites:
        settings = settings_for(sites, source, retries=3, backoff_seconds=0.2)
        with pytest.raises(LayoutChangedError) as raised:
            scrape(source, settings)

    message = str(raised.value)
    assert f"expected list items ({ITEM_SELECTORS[source]}) not found on page 3 of {settings.base_url}" in message
    assert f"update {SCRAPER_FILES[source]}" in message
    assert len(requests_for_page(sites, source, 3)) == 1, "no retry"
    # What the browser showed is kept for whoever updates the scraper, and the message says where.
    shots = list((tmp_path / "artifacts" / "places" / "failures").glob(f"{source}-*.png"))
    assert len(shots) == 1 and shots[0].read_bytes()[:4] == b"\x89PNG" and str(shots[0]) in message


@BOTH_SOURCES
@pytest.mark.parametrize(("field", "markup"), [("name", "empty"), ("address", "missing")])
def test_a_listing_without_a_name_or_address_is_kept_blank_and_the_walk_goes_on(source, field, markup, caplog):
    # Row 13 (page 2, position 3): its element is there but empty, or left out of the item.
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, blank_row=13, blank_field=field,
                           blank_markup=markup) as sites:
        places = scrape(source, settings_for(sites, source))

    expected = expected_rows(source, sites, rows=25)
    column = {"name": 1, "address": 2}[field]
    expected[12] = (*expected[12][:column], "", *expected[12][column + 1:])
    assert rows_of(places) == expected, "every row kept, the blank one with '' for validation to quarantine"
    assert (places[12].page, places[12].position) == (2, 3)
    assert [message for message in warnings_of(caplog) if "result 3 on page 2" in message
            and f"shows no {field}" in message], warnings_of(caplog)


@BOTH_SOURCES
def test_a_field_missing_from_every_result_of_a_page_is_a_layout_change(source):
    # Page 2 holds one place, without an address element: no result shows the selector still works.
    with serve_place_sites(render_delay_ms=20, kt_rows=11, venue_rows=11, blank_row=11, blank_field="address",
                           blank_markup="missing") as sites:
        settings = settings_for(sites, source, retries=3, backoff_seconds=0.2)
        with pytest.raises(LayoutChangedError) as raised:
            scrape(source, settings)

    message = str(raised.value)
    assert (f"expected the address ({ADDRESS_SELECTORS[source]}) in any of the 1 results not found on page 2 "
            f"of {settings.base_url}") in message
    assert f"update {SCRAPER_FILES[source]}" in message
    assert pages_asked_for(sites, source) == [1, 2], "no retry"


@BOTH_SOURCES
def test_a_page_shown_empty_after_the_first_is_retried_then_reported(source):
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, empty_page=2, empty_answers=10) as sites:
        settings = settings_for(sites, source, retries=1)
        with pytest.raises(ScrapeError) as raised:
            scrape(source, settings)

    message = str(raised.value)
    assert f"could not read page 2 of {source} ({settings.base_url}) after 2 attempts" in message
    assert "the site offered page 2 but showed nothing on it" in message
    assert "core.places keeps the last good crawl" in message
    assert len(requests_for_page(sites, source, 2)) == 2


@pytest.mark.parametrize(
    ("source", "rows", "empty_page"),
    [
        (KT_STORE_FINDER, 25, 2),
        # The first page of a block: no numbered link leads back to page 10, "이전" does.
        (KT_STORE_FINDER, 115, 11),
        (DIGITAL_LEARNING_CENTERS, 25, 2),
    ],
)
def test_a_page_shown_empty_once_is_asked_for_again_and_read(source, rows, empty_page):
    with serve_place_sites(render_delay_ms=20, kt_rows=rows, venue_rows=rows, empty_page=empty_page) as sites:
        places = scrape(source, settings_for(sites, source, retries=1))

    assert rows_of(places) == expected_rows(source, sites, rows=rows)
    assert len(requests_for_page(sites, source, empty_page)) == 2


@BOTH_SOURCES
def test_nothing_found_on_the_first_page_is_an_answer_only_when_the_site_announces_zero(source):
    with serve_place_sites(render_delay_ms=20, kt_rows=0, venue_rows=0) as sites:
        assert scrape(source, settings_for(sites, source)) == []

    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, empty_page=1, empty_answers=10) as sites:
        with pytest.raises(ScrapeError) as raised:
            scrape(source, settings_for(sites, source))

    message = str(raised.value)
    assert "the site offered page 1 but showed nothing on it" in message
    assert "announces 25 places" in message


@pytest.mark.parametrize(
    ("source", "announced", "cause"),
    [
        (KT_STORE_FINDER, 30, "the walk stopped early or pages were skipped"),
        (DIGITAL_LEARNING_CENTERS, 30, "the walk stopped early or pages were skipped"),
        (KT_STORE_FINDER, 20, "pages were read twice, or places were added while we walked"),
    ],
)
def test_a_walk_that_does_not_add_up_to_the_announced_total_is_a_scrape_error(source, announced, cause):
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, announced_total=announced) as sites:
        settings = settings_for(sites, source, retries=2)
        with pytest.raises(ScrapeError) as raised:
            scrape(source, settings)

    message = str(raised.value)
    assert f"read 25 places over 3 pages of {settings.base_url} but the site announces {announced}: {cause}" in message
    assert "core.places keeps the last good crawl" in message
    # Every page was read once: the task's own retry walks again, not the scraper.
    assert pages_asked_for(sites, source) == [1, 2, 3]


@BOTH_SOURCES
def test_a_site_that_shows_no_total_is_read_in_full_with_a_warning(source, caplog):
    with serve_place_sites(render_delay_ms=20, kt_rows=25, venue_rows=25, show_total=False) as sites:
        places = scrape(source, settings_for(sites, source))

    assert rows_of(places) == expected_rows(source, sites, rows=25)
    assert [message for message in warnings_of(caplog) if "the site shows no total of places after 3 pages" in message
            and "cannot check that all 25 places were read" in message], warnings_of(caplog)


@pytest.mark.parametrize("quote", ["", "'", '"'])
def test_venue_pages_are_followed_however_the_page_links_quote_the_number(quote):
    # fn_egov_link_page(2), fn_egov_link_page('2'), fn_egov_link_page("2"): all seen on eGov sites.
    with serve_place_sites(render_delay_ms=20, venue_rows=25, pager_quote=quote) as sites:
        places = scrape(DIGITAL_LEARNING_CENTERS, settings_for(sites, DIGITAL_LEARNING_CENTERS))

    assert rows_of(places) == expected_rows(DIGITAL_LEARNING_CENTERS, sites, rows=25)
    assert pages_asked_for(sites, DIGITAL_LEARNING_CENTERS) == [1, 2, 3]


@pytest.mark.parametrize(
    ("variable", "what"),
    [("RETENTION_CHROMEDRIVER", "chromedriver"), ("RETENTION_CHROMIUM_BINARY", "Chromium")],
)
def test_a_missing_browser_or_driver_is_reported_with_the_remedy(monkeypatch, tmp_path, variable, what):
    missing = tmp_path / "not-installed"
    monkeypatch.setenv(variable, str(missing))

    with pytest.raises(BrowserUnavailableError) as raised:
        scrape(KT_STORE_FINDER, ScrapeSettings(base_url="http://127.0.0.1:9/store/storeFinder.do"))

    assert str(raised.value) == (
        f"{what} not found at {missing}: install the distribution packages `chromium chromium-driver` "
        f"(README, 'The two commands') or set {variable}"
    )


def test_scrape_without_a_configured_url_says_which_variable_to_set():
    with pytest.raises(ValueError, match="set RETENTION_LEARNING_CENTERS_URL"):
        scrape(DIGITAL_LEARNING_CENTERS, ScrapeSettings(base_url=None))


# ScrapeSettings.from_env: a unit test, no browser.

SCRAPE_VARIABLES = (
    "RETENTION_KT_STORE_FINDER_URL", "RETENTION_LEARNING_CENTERS_URL", "RETENTION_SCRAPE_PAGE_DELAY_SECONDS",
    "RETENTION_SCRAPE_TIMEOUT_SECONDS", "RETENTION_SCRAPE_RETRIES", "RETENTION_SCRAPE_BACKOFF_SECONDS",
    "RETENTION_SCRAPE_USER_AGENT",
)


@pytest.fixture
def clean_scrape_environment(monkeypatch):
    for variable in SCRAPE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_settings_from_env_default_to_polite_and_unconfigured(clean_scrape_environment):
    settings = ScrapeSettings.from_env(KT_STORE_FINDER)

    assert settings == ScrapeSettings(base_url=None)
    assert (settings.page_delay_seconds, settings.timeout_seconds, settings.retries, settings.backoff_seconds) == (
        2.0, 30.0, 3, 5.0)
    assert settings.user_agent == DEFAULT_USER_AGENT
    assert settings.max_pages == 200


def test_settings_from_env_read_each_source_url_and_the_shared_knobs(clean_scrape_environment):
    env = clean_scrape_environment
    env.setenv("RETENTION_KT_STORE_FINDER_URL", "https://stores.example/finder")
    env.setenv("RETENTION_LEARNING_CENTERS_URL", "https://venues.example/edc/crse/plclist.do")
    env.setenv("RETENTION_SCRAPE_PAGE_DELAY_SECONDS", "0.5")
    env.setenv("RETENTION_SCRAPE_TIMEOUT_SECONDS", "60")
    env.setenv("RETENTION_SCRAPE_RETRIES", "5")
    env.setenv("RETENTION_SCRAPE_BACKOFF_SECONDS", "1")
    env.setenv("RETENTION_SCRAPE_USER_AGENT", "TestBot/2.0")

    kt = ScrapeSettings.from_env(KT_STORE_FINDER)
    venues = ScrapeSettings.from_env(DIGITAL_LEARNING_CENTERS)

    assert kt == ScrapeSettings(base_url="https://stores.example/finder", page_delay_seconds=0.5, timeout_seconds=60,
                                retries=5, backoff_seconds=1, user_agent="TestBot/2.0")
    assert venues.base_url == "https://venues.example/edc/crse/plclist.do"


def test_settings_from_env_name_the_variable_that_is_wrong(clean_scrape_environment):
    clean_scrape_environment.setenv("RETENTION_SCRAPE_RETRIES", "three")
    with pytest.raises(ValueError, match="RETENTION_SCRAPE_RETRIES='three' is not a whole number"):
        ScrapeSettings.from_env(KT_STORE_FINDER)

    clean_scrape_environment.setenv("RETENTION_SCRAPE_RETRIES", "-1")
    with pytest.raises(ValueError, match=r"retries must be 0 or more, got -1 \(set by RETENTION_SCRAPE_RETRIES\)"):
        ScrapeSettings.from_env(KT_STORE_FINDER)

    with pytest.raises(ValueError, match="unknown place source 'kt_shops'"):
        ScrapeSettings.from_env("kt_shops")
