"""KT's store finder: every KT store in Seoul (플라자, 체험형 플라자, 대리점) with its address and phone.

The page is a search form (시/도, 구/군, 검색) over a list that JavaScript fills from a JSON
endpoint, ten stores a page, under numbered page links and a "다음" link to the next block of
pages. The URL does not change between pages, so the scraper clicks through like a visitor and,
after each click, waits until the old list is gone and the new one is in place. Above the list,
"총 N개 매장" is the total the walk must add up to.

The selectors are kept together below: when the site changes, they are what to update (a
LayoutChangedError names the one that no longer matched).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from selenium.webdriver.common.by import By

from retention.places.model import KT_STORE_FINDER, ScrapedPlace
from retention.places.scrapers import (
    LayoutChangedError,
    ResultList,
    ScrapeSettings,
    TransientPageError,
    announced_total,
    choose_option,
    current_page,
    first_child,
    raise_for_http_error,
    read_results,
    require_element,
    wait_for,
    wait_for_results,
    walk_pages,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

REGION = "서울특별시"
ALL_DISTRICTS = "전체"

REGION_SELECT = "select#sido"
DISTRICT_SELECT = "select#gugun"
SEARCH_BUTTON = "button#btnSearch"
PAGINATION = "#paging"
NEXT_BLOCK = "#paging a.next:not(.disabled)"  # "다음": the first page of the next block of page links
PREVIOUS_BLOCK = "#paging a.prev:not(.disabled)"  # "이전": the last page of the previous block
RESULTS = ResultList(
    list_css="ul#storeList",
    item_css="li.store-item",
    fields={
        "type_label": (".store-type", "innerText"),  # e.g. "[체험형 플라자]"
        "name": (".store-name", "innerText"),
        "address": (".store-addr", "innerText"),
        "phone": (".store-tel", "innerText"),  # absent for the few stores without a number
    },
    required=("type_label", "name", "address"),
    error_css=".error",
    empty_css=".no-result",
    current_page_css="#paging strong.on",
    total_css="#resultCount",  # "총 475개 매장"
)


class KtStoreFinder:
    """Seoul's KT stores, all districts, every result page."""

    name = KT_STORE_FINDER

    def scrape(self, driver: WebDriver, settings: ScrapeSettings) -> list[ScrapedPlace]:
        return walk_pages(
            self.name, settings, partial(self._load_page, driver, settings), partial(self._has_next_page, driver),
            partial(announced_total, driver, RESULTS),
        )

    def _load_page(self, driver: WebDriver, settings: ScrapeSettings, page: int) -> list[ScrapedPlace]:
        if page == 1:
            self._fill_in_search(driver, settings)
            search = require_element(driver, SEARCH_BUTTON, "the search button", page=page, scraper=__name__)
            self._show(driver, settings, page, search.click)
            return self._read(driver, page)
        shown = current_page(driver, RESULTS)
        if shown == page and not driver.find_elements(By.CSS_SELECTOR, f"{RESULTS.list_css} {RESULTS.item_css}"):
            # An earlier attempt found the page shown without stores. The pagination marks it as the
            # current page, so no link leads to it: step back one page, from which one does.
            self._show(driver, settings, page - 1, lambda: self._link_back_from(driver, page).click())
            shown = current_page(driver, RESULTS)
            if shown != page - 1:
                raise TransientPageError(
                    f"could not step back to page {page - 1} to ask for page {page} again ({driver.current_url})"
                )
        if shown != page:
            # Otherwise page `page` is already shown: an earlier attempt failed while reading it.
            self._show(driver, settings, page, lambda: self._link_to(driver, page).click())
        return self._read(driver, page)

    def _read(self, driver: WebDriver, page: int) -> list[ScrapedPlace]:
        return read_results(driver, RESULTS, source=self.name, page=page, scraper=__name__, constants={})

    def _fill_in_search(self, driver: WebDriver, settings: ScrapeSettings) -> None:
        assert settings.base_url is not None  # scrape() refuses to start without one
        driver.get(settings.base_url)
        raise_for_http_error(driver, "the store finder")
        choose_option(driver, REGION_SELECT, REGION, page=1, scraper=__name__)
        # The district options follow the region, possibly from a request of their own.
        wait_for(
            driver, settings, lambda driver: self._has_option(driver, DISTRICT_SELECT, ALL_DISTRICTS),
            what=f"the district select ({DISTRICT_SELECT}) to offer {ALL_DISTRICTS!r}",
        )
        choose_option(driver, DISTRICT_SELECT, ALL_DISTRICTS, page=1, scraper=__name__)

    def _show(self, driver: WebDriver, settings: ScrapeSettings, page: int, navigate: Callable[[], None]) -> None:
        """Run `navigate` (a click) and wait until the list it replaces has been re-rendered."""
        before = first_child(driver, RESULTS)
        navigate()
        wait_for_results(driver, settings, RESULTS, replacing=before, page=page, scraper=__name__)

    def _has_next_page(self, driver: WebDriver, page: int) -> bool:
        return bool(self._numbered_links(driver, page + 1) or self._next_block(driver))

    def _link_to(self, driver: WebDriver, page: int) -> WebElement:
        # Pages beyond the shown block are reached with "다음"; read_results then checks the
        # pagination really marks `page` as shown.
        links = self._numbered_links(driver, page) or self._next_block(driver)
        if not links:
            raise LayoutChangedError.missing(
                f"a link to page {page} ({PAGINATION} a) or to the next block ({NEXT_BLOCK})",
                page=page - 1, url=driver.current_url, scraper=__name__,
            )
        return links[0]

    def _link_back_from(self, driver: WebDriver, page: int) -> WebElement:
        # The first page of a block has no numbered link to the page before: "이전" leads there.
        links = self._numbered_links(driver, page - 1) or driver.find_elements(By.CSS_SELECTOR, PREVIOUS_BLOCK)
        if not links:
            raise LayoutChangedError.missing(
                f"a link to page {page - 1} ({PAGINATION} a) or to the previous block ({PREVIOUS_BLOCK})",
                page=page, url=driver.current_url, scraper=__name__,
            )
        return links[0]

    @staticmethod
    def _numbered_links(driver: WebDriver, page: int) -> list[WebElement]:
        pagination = driver.find_elements(By.CSS_SELECTOR, PAGINATION)
        return pagination[0].find_elements(By.XPATH, f".//a[normalize-space()='{page}']") if pagination else []

    @staticmethod
    def _next_block(driver: WebDriver) -> list[WebElement]:
        return driver.find_elements(By.CSS_SELECTOR, NEXT_BLOCK)

    @staticmethod
    def _has_option(driver: WebDriver, select_css: str, text: str) -> bool:
        selects = driver.find_elements(By.CSS_SELECTOR, select_css)
        return bool(selects and selects[0].find_elements(By.XPATH, f"./option[normalize-space()='{text}']"))
