"""Fixture copies of the two sites the place scrapers read, served on loopback for tests.

Modelled on the structure of the real sites (Korean, UTF-8, results rendered by JavaScript
from a JSON endpoint after a delay, paginated ten a page) and filled from the bundled 2023
crawls, so a full scrape returns exactly the bundled rows:

- KT's store finder (`kt_store_finder`): 475 stores, 48 pages, clicked through in one page.
- The 디지털 배움터 venue list (`learning_centers`): 141 venues, 15 pages, one form POST each.

Usage::

    from place_sites import serve_place_sites

    with serve_place_sites(kt_rows=30, failing_page=2) as sites:
        settings = ScrapeSettings(base_url=sites.kt_store_finder_url, page_delay_seconds=0)
        ...
        sites.requests  # what the scraper asked for, with user agents and arrival times

Each site has its own server (own origin, like the real ones) on a free port, in a background
thread, shut down on exit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from retention.config import BUNDLED_DATA_DIR

from place_sites.kt_store_finder import KtStoreFinderSite
from place_sites.learning_centers import LearningCentersSite
from place_sites.server import RecordedRequest, RequestLog, SiteOptions, serving

__all__ = [
    "REAL_LEARNING_CENTERS_ORIGIN",
    "PlaceSites",
    "RecordedRequest",
    "bundled_kt_stores",
    "bundled_learning_centers",
    "serve_place_sites",
]

KT_STORES_CSV = BUNDLED_DATA_DIR / "places" / "kt_stores_seoul_2023.csv"
LEARNING_CENTERS_CSV = BUNDLED_DATA_DIR / "places" / "digital_learning_centers_seoul_2023.csv"
REAL_LEARNING_CENTERS_ORIGIN = "https://www.xn--2z1bw8k1pjz5ccumkb.kr"  # the origin of the bundled detail links


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def bundled_kt_stores() -> list[dict[str, str]]:
    """The 2023 crawl of KT stores: 장소타입, 장소, 주소, 전화번호 (empty when none), in site order."""
    return _read(KT_STORES_CSV)


def bundled_learning_centers() -> list[dict[str, str]]:
    """The 2023 crawl of 디지털 배움터 venues: 장소명, 주소명, 상세페이지 (absolute link), in site order."""
    return _read(LEARNING_CENTERS_CSV)


@dataclass(frozen=True)
class PlaceSites:
    """The running fixture sites."""

    kt_store_finder_url: str
    """The store-finder page: what `ScrapeSettings.base_url` takes for `KT_STORE_FINDER`."""
    learning_centers_url: str
    """The venue list page: what `ScrapeSettings.base_url` takes for `DIGITAL_LEARNING_CENTERS`."""
    learning_centers_origin: str
    """Where the venue site's detail links point (in place of the real site's origin)."""
    _log: RequestLog

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, both sites, in arrival order (a copy)."""
        return self._log.snapshot()

    def result_requests(self, site: str) -> list[RecordedRequest]:
        """The requests that fetched a result page of `site`: its JSON for KT, its document for venues."""
        kind = "data" if site == KtStoreFinderSite.name else "page"
        return [request for request in self.requests if request.site == site and request.kind == kind
                and request.page is not None]


@contextmanager
def serve_place_sites(
    *,
    render_delay_ms: int = 300,
    broken_page: int | None = None,
    failing_page: int | None = None,
    failures: int = 1,
    kt_rows: int | None = None,
    venue_rows: int | None = None,
    empty_page: int | None = None,
    empty_answers: int = 1,
    blank_row: int | None = None,
    blank_field: str = "name",
    blank_markup: str = "empty",
    announced_total: int | None = None,
    show_total: bool = True,
    pager_quote: str = "",
) -> Iterator[PlaceSites]:
    """Serve both fixture sites until the block ends.

    render_delay_ms: how long each site's script waits between receiving results and showing them.
    broken_page: from this result page on, result items carry another class (`li.shop-card` for KT,
        `li.edu-place` for venues), as after a redesign.
    failing_page, failures: the first `failures` requests for this result page answer HTTP 500 (KT:
        the JSON request, so the page shows its error message; venues: the list document itself).
    kt_rows, venue_rows: serve only the first N stores / venues, to keep tests that need no full
        walk fast (0: the site finds nothing and says "총 0").
    empty_page, empty_answers: the first `empty_answers` requests for this result page answer with
        no places (the list shows the site's "nothing found" message) while the total and the
        pagination still count them, as a site hiccup would.
    blank_row, blank_field, blank_markup: the place in this row (1-based, over all pages) shows no
        `blank_field` ("name" or "address"): its element is there but empty (`blank_markup="empty"`)
        or left out of the item (`"missing"`).
    announced_total: the total the sites announce ("총 N개 매장", `#totalCnt`) in place of the number
        of places they serve; show_total=False: the page shows no total at all.
    pager_quote: how the venue list's page links quote the page number: `fn_egov_link_page(4)` (""),
        `fn_egov_link_page('4')` ("'") or `fn_egov_link_page("4")` ('"').
    """
    options = SiteOptions(
        render_delay_ms=render_delay_ms, broken_page=broken_page, failing_page=failing_page, failures=failures,
        kt_rows=kt_rows, venue_rows=venue_rows, empty_page=empty_page, empty_answers=empty_answers,
        blank_row=blank_row, blank_field=blank_field, blank_markup=blank_markup, announced_total=announced_total,
        show_total=show_total, pager_quote=pager_quote,
    )
    log = RequestLog()
    with ExitStack() as stack:
        kt_origin = stack.enter_context(serving(KtStoreFinderSite(bundled_kt_stores()[:kt_rows], options), log))
        venues = LearningCentersSite(bundled_learning_centers()[:venue_rows], options)
        learning_origin = stack.enter_context(serving(venues, log))
        yield PlaceSites(
            kt_store_finder_url=f"{kt_origin}/store/storeFinder.do",
            learning_centers_url=f"{learning_origin}/edc/crse/plclist.do",
            learning_centers_origin=learning_origin,
            _log=log,
        )
