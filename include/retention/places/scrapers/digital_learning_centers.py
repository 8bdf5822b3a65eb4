"""디지털 배움터 venues: the programme site's list of classrooms ("교육장 찾기"), filtered to Seoul.

The site is an eGovFramework application. `/edc/crse/plclist.do` is a search form (`listForm`:
region, `pageIndex`) whose result list, total (`#totalCnt`) and pagination JavaScript fills from
a JSON call once the page has loaded. The page links call `fn_egov_link_page(n)` (eGov pages
write it `(4)`, `('4')` or `("4")`), which puts n in `pageIndex` and submits the form: every
result page is a new document (a POST). Each venue links to its detail page
(`/edc/crse/plcdtl.do?&sch_edc_place_id=...`), read as an absolute URL.

The selectors are kept together below: when the site changes, they are what to update (a
LayoutChangedError names the one that no longer matched).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from selenium.webdriver.common.by import By

from retention.places.model import DIGITAL_LEARNING_CENTERS, ScrapedPlace
from retention.places.scrapers import (
    LayoutChangedError,
    ResultList,
    ScrapeSettings,
    announced_total,
    choose_option,
    raise_for_http_error,
    read_results,
    replaced,
    require_element,
    wait_for,
    wait_for_results,
    walk_pages,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REGION = "서울특별시"
TYPE_LABEL = "디지털 배움터"  # the list has one kind of place only

LIST_FORM = "form[name='listForm']"
REGION_SELECT = "form[name='listForm'] select[name='sch_sido']"
SEARCH_BUTTON = "form[name='listForm'] .btn-search"
PAGER_FUNCTION = "fn_egov_link_page"
PAGINATION = "#paging"
RESULTS = ResultList(
    list_css="ul#placeList",
    item_css="li.place-item",
    fields={
        "name": ("a.place-name", "innerText"),
        "address": (".place-addr", "innerText"),
        "detail_url": ("a.place-name", "href"),  # the href property: absolute, resolved by the browser
    },
    required=("name", "address", "detail_url"),
    error_css=".error",
    empty_css=".no-data",
    current_page_css="#paging strong",
    total_css="#totalCnt",  # "총 <strong id="totalCnt">141</strong>건"
)
# A call of the pager in a link's onclick or href, with its page number however quoted.
PAGER_CALL = re.compile(rf"""{PAGER_FUNCTION}\(\s*(["']?)(\d+)\1\s*\)""")

# Calls the site's own pager, as its page links do; false when the page has no such function.
_CALL_PAGER = f"""
if (typeof {PAGER_FUNCTION} !== "function") return false;
{PAGER_FUNCTION}(arguments[0]);
return true;
"""
# The onclick and href of every pagination link, to find the pages they lead to.
_PAGER_LINKS = """
return Array.from(document.querySelectorAll(arguments[0]),
                  (link) => (link.getAttribute("onclick") || "") + " " + (link.getAttribute("href") || ""));
"""


class DigitalLearningCenters:
    """Seoul's 디지털 배움터 venues, every result page."""

    name = DIGITAL_LEARNING_CENTERS

    def scrape(self, driver: WebDriver, settings: ScrapeSettings) -> list[ScrapedPlace]:
        return walk_pages(
            self.name, settings, partial(self._load_page, driver, settings), partial(self._has_next_page, driver),
            partial(announced_total, driver, RESULTS),
        )

    def _load_page(self, driver: WebDriver, settings: ScrapeSettings, page: int) -> list[ScrapedPlace]:
        if page == 1 or not driver.find_elements(By.CSS_SELECTOR, LIST_FORM):
            # Page 1, or an earlier attempt ended on an error page (no form to submit): search anew.
            self._search(driver, settings)
        if page > 1:
            # The page links only call the pager, so calling it directly is what a click does; it
            # also works from a page whose results failed to load, where no link was rendered.
            self._navigate(driver, settings, page, lambda: self._call_pager(driver, page))
        wait_for_results(driver, settings, RESULTS, replacing=None, page=page, scraper=__name__)
        return read_results(
            driver, RESULTS, source=self.name, page=page, scraper=__name__, constants={"type_label": TYPE_LABEL}
        )

    def _search(self, driver: WebDriver, settings: ScrapeSettings) -> None:
        assert settings.base_url is not None  # scrape() refuses to start without one
        driver.get(settings.base_url)
        raise_for_http_error(driver, "the venue list")
        choose_option(driver, REGION_SELECT, REGION, page=1, scraper=__name__)
        search = require_element(driver, SEARCH_BUTTON, "the search button", page=1, scraper=__name__)
        self._navigate(driver, settings, 1, search.click)

    def _navigate(self, driver: WebDriver, settings: ScrapeSettings, page: int, submit: Callable[[], None]) -> None:
        """Submit the form (`submit`), wait for the new document, and check it is not an HTTP error page."""
        old_document = driver.find_element(By.TAG_NAME, "html")
        submit()
        wait_for(driver, settings, replaced(old_document), what=f"page {page} to load")
        raise_for_http_error(driver, f"page {page} of the venue list")

    @staticmethod
    def _call_pager(driver: WebDriver, page: int) -> None:
        if not driver.execute_script(_CALL_PAGER, page):
            raise LayoutChangedError.missing(
                f"the pager function {PAGER_FUNCTION}()", page=page - 1, url=driver.current_url, scraper=__name__
            )

    @staticmethod
    def _has_next_page(driver: WebDriver, page: int) -> bool:
        # Numbered links and "다음" alike call the pager; eGov renders the call in onclick or href.
        calls = driver.execute_script(_PAGER_LINKS, f"{PAGINATION} a")
        return any(int(match[2]) == page + 1 for call in calls for match in PAGER_CALL.finditer(call))
