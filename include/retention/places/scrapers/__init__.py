"""Scraping the two place lists with a real browser: the source interface and the politeness rules.

Both sites render their results with JavaScript, so each source drives a headless Chromium
(`retention.places.browser`) through the site as a visitor would: choose Seoul, search, then
walk every result page. What the two share lives here, so that every source is equally polite
and fails the same way:

- `ScrapeSettings`: where to go and how gently (delay between pages, timeouts, retries with
  exponential backoff, an honest user agent), read from `RETENTION_SCRAPE_*` variables.
- Explicit waits (`wait_for`, `wait_for_results`): poll the page until it has what we need,
  never sleep and hope.
- Two kinds of failure, because the remedy differs. `ScrapeError`: the site was slow, down or
  answered with an error, and stayed so after every retry; running again later may well work.
  `LayoutChangedError`: the page no longer has the structure the scraper reads; retrying cannot
  help, a developer must update the scraper. Either way `core.places` keeps the last good crawl.
- Nothing lost silently: a page the site offered but showed empty is a transient failure; the
  walk ends by comparing the places read with the total the site announces (`ResultList.total_css`);
  a single result lacking a field is kept with it blank (validation quarantines it) rather than
  failing the crawl, which only a field missing from every result of a page does.

Adding a site: write a module with a class satisfying `PlaceSource` (see `kt_store_finder`),
build it on `walk_pages`, and register it in `SOURCES`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from retention.places.browser import headless_chromium
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER, ScrapedPlace

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_USER_AGENT = "TelcoRetentionPlacesBot/1.0 (+monthly places refresh; contact: data-engineering)"

# The page each source starts from; unset means live scraping is not configured for it.
BASE_URL_VARIABLES = {
    KT_STORE_FINDER: "RETENTION_KT_STORE_FINDER_URL",
    DIGITAL_LEARNING_CENTERS: "RETENTION_LEARNING_CENTERS_URL",
}
# Settings shared by every source: field name -> (variable, type).
SETTING_VARIABLES: dict[str, tuple[str, type]] = {
    "page_delay_seconds": ("RETENTION_SCRAPE_PAGE_DELAY_SECONDS", float),
    "timeout_seconds": ("RETENTION_SCRAPE_TIMEOUT_SECONDS", float),
    "retries": ("RETENTION_SCRAPE_RETRIES", int),
    "backoff_seconds": ("RETENTION_SCRAPE_BACKOFF_SECONDS", float),
    "user_agent": ("RETENTION_SCRAPE_USER_AGENT", str),
}

KEEPS_LAST_GOOD_CRAWL = "core.places keeps the last good crawl."


@dataclass(frozen=True)
class ScrapeSettings:
    """Where a scrape starts and how gently it walks the site."""

    base_url: str | None
    """The page the scraper opens first (the store finder, the venue list); None: not configured."""
    page_delay_seconds: float = 2.0
    """Pause between two result pages, so a monthly crawl never loads the site like a burst of users."""
    timeout_seconds: float = 30.0
    """Longest wait for a page load or for results to render."""
    retries: int = 3
    """Further attempts at a page after a transient failure (timeout, connection error, HTTP error)."""
    backoff_seconds: float = 5.0
    """Pause before the first retry; doubled before each further one."""
    user_agent: str = DEFAULT_USER_AGENT
    """Sent with every request, so the site's operators can see who we are and how to reach us."""
    max_pages: int = 200
    """Guard against pagination that loops (a site bug or layout change): give up after this many pages."""

    def __post_init__(self) -> None:
        for name in ("page_delay_seconds", "backoff_seconds", "retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"ScrapeSettings.{name} must be 0 or more, got {getattr(self, name)}{_set_by(name)}")
        for name in ("timeout_seconds", "max_pages"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ScrapeSettings.{name} must be more than 0, got {getattr(self, name)}{_set_by(name)}")
        if not self.user_agent.strip():
            raise ValueError(f"ScrapeSettings.user_agent must not be empty{_set_by('user_agent')}")

    @classmethod
    def from_env(cls, source_name: str) -> ScrapeSettings:
        """Settings for one source; unset variables keep the defaults above."""
        if source_name not in BASE_URL_VARIABLES:
            raise ValueError(f"unknown place source {source_name!r}; expected one of {sorted(BASE_URL_VARIABLES)}")
        overrides: dict[str, object] = {}
        for name, (variable, kind) in SETTING_VARIABLES.items():
            raw = os.environ.get(variable, "").strip()
            if raw:
                overrides[name] = _parse(variable, raw, kind)
        return cls(base_url=os.environ.get(BASE_URL_VARIABLES[source_name], "").strip() or None, **overrides)


def _parse(variable: str, raw: str, kind: type) -> object:
    try:
        return kind(raw)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise ValueError(f"{variable}={raw!r} is not {expected}: unset it for the default, or set e.g. 3") from None


def _set_by(field_name: str) -> str:
    return f" (set by {SETTING_VARIABLES[field_name][0]})" if field_name in SETTING_VARIABLES else ""


class PlaceSource(Protocol):
    """One site's list of places, read with a browser the caller opens and closes."""

    name: str
    """`KT_STORE_FINDER` or `DIGITAL_LEARNING_CENTERS`: the `source` of every place it returns."""

    def scrape(self, driver: WebDriver, settings: ScrapeSettings) -> list[ScrapedPlace]: ...


class ScrapeError(RuntimeError):
    """The site stayed slow, unreachable or in error through every retry. Running again later may work."""


class LayoutChangedError(RuntimeError):
    """The page lacks the structure the scraper reads. Never retried: a developer must update the scraper."""

    @classmethod
    def missing(cls, expected: str, *, page: int, url: str, scraper: str) -> LayoutChangedError:
        """`expected` names the thing and its selector, e.g. 'list items (li.store-item)'; `scraper` is `__name__`."""
        return cls(
            f"expected {expected} not found on page {page} of {url}: the site's layout may have changed; "
            f"update {source_file(scraper)}. {KEEPS_LAST_GOOD_CRAWL}"
        )


class TransientPageError(RuntimeError):
    """The site answered with an error (an HTTP error page, or its own "try again later" message).

    Retried like a timeout: a busy or restarting server usually recovers within minutes."""


def source_file(module_name: str) -> str:
    """Where a scraper module lives in the repository, for error messages ("update ...")."""
    return "include/" + module_name.replace(".", "/") + ".py"


# What a retry can cure: slow pages and renders (TimeoutException), a browser-level hiccup such
# as connection refused or a list re-rendered under our feet (WebDriverException), an error page.
# LayoutChangedError is deliberately absent.
TRANSIENT_ERRORS = (TimeoutException, WebDriverException, TransientPageError)


def with_retries(action: Callable[[], T], *, what: str, settings: ScrapeSettings) -> T:
    """Run one page action; after a transient failure wait (backoff, doubled each time) and run it again.

    `action` must be safe to repeat from wherever the previous attempt left the browser.
    """
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TRANSIENT_ERRORS as error:
            if attempt == attempts:
                raise ScrapeError(
                    f"could not read {what} after {attempts} attempts (last: {_summary(error)}): the site may be "
                    f"down, slow or refusing us. Run the task again later; if pages are merely slow, raise "
                    f"{SETTING_VARIABLES['timeout_seconds'][0]} or {SETTING_VARIABLES['retries'][0]}. "
                    f"{KEEPS_LAST_GOOD_CRAWL}"
                ) from error
            pause = settings.backoff_seconds * 2 ** (attempt - 1)
            log.warning("%s: attempt %d of %d failed (%s); retrying in %.1fs", what, attempt, attempts,
                        _summary(error), pause)
            time.sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")


def _summary(error: Exception) -> str:
    # WebDriverException's str() carries a stack trace of the browser; its .msg is the sentence.
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {message.strip().splitlines()[0]}"


def walk_pages(
    source: str,
    settings: ScrapeSettings,
    load_page: Callable[[int], list[ScrapedPlace]],
    has_next_page: Callable[[int], bool],
    announced_total: Callable[[], int | None] | None = None,
) -> list[ScrapedPlace]:
    """Read result pages 1, 2, ... until the site offers no next page.

    `load_page(n)` brings page n up and reads it; `has_next_page(n)`, asked while page n is shown,
    says whether the site links to page n + 1. Both are retried together, so they must be repeatable.
    `announced_total()`, asked while the last page is shown, is how many places the site says it
    found (None: it shows no total); the walk must have read exactly that many, or ScrapeError.
    """

    def read(page: int) -> tuple[list[ScrapedPlace], bool, int | None]:
        found, more = load_page(page), has_next_page(page)
        return found, more, announced_total() if announced_total is not None and not more else None

    places: list[ScrapedPlace] = []
    for page in range(1, settings.max_pages + 1):
        if page > 1:
            time.sleep(settings.page_delay_seconds)  # politeness, not rendering: renders are waited for
        what = f"page {page} of {source} ({settings.base_url})"
        found, more, total = with_retries(partial(read, page), what=what, settings=settings)
        log.info("%s: page %d: %d places", source, page, len(found))
        places.extend(found)
        if not more:
            log.info("%s: no page after %d; %d places in all", source, page, len(places))
            if announced_total is not None:
                check_total(source, settings, read=len(places), pages=page, announced=total)
            return places
    raise LayoutChangedError(
        f"{source} still offered a next page after {settings.max_pages} pages of {settings.base_url}: its "
        f"pagination may loop (a layout change), or the site has grown past ScrapeSettings.max_pages; check its "
        f"scraper in include/retention/places/scrapers/. {KEEPS_LAST_GOOD_CRAWL}"
    )


def check_total(source: str, settings: ScrapeSettings, *, read: int, pages: int, announced: int | None) -> None:
    """Raise ScrapeError unless `read` places (every row, duplicates included) are what the site announced."""
    if announced is None:
        log.warning("%s: the site shows no total of places after %d pages of %s (the total_css of its "
                    "ResultList matched nothing with a number); cannot check that all %d places were read",
                    source, pages, settings.base_url, read)
        return
    if read == announced:
        return
    # Either way a later walk usually agrees with the site: the task is retried on ScrapeError.
    cause = ("the walk stopped early or pages were skipped" if read < announced
             else "pages were read twice, or places were added while we walked")
    raise ScrapeError(
        f"read {read} places over {pages} pages of {settings.base_url} but the site announces {announced}: "
        f"{cause}; run the task again later, and if the numbers keep differing, check the pagination of the "
        f"{source} scraper in include/retention/places/scrapers/. {KEEPS_LAST_GOOD_CRAWL}"
    )


def wait_for(driver: WebDriver, settings: ScrapeSettings, condition: Callable[[WebDriver], T], *, what: str) -> T:
    """Poll `condition` until it returns something truthy (returned), or raise TimeoutException naming `what`."""
    wait = WebDriverWait(
        driver,
        settings.timeout_seconds,
        poll_frequency=0.05,
        # A list being re-rendered while we look at it is the normal case, not an error.
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )
    return wait.until(condition, message=f"waited {settings.timeout_seconds:g}s for {what} on {driver.current_url}")


@dataclass(frozen=True)
class ResultList:
    """Where a site shows its results, as CSS selectors: the part of a scraper that follows the layout."""

    list_css: str
    """The element JavaScript fills with results (or with an error or "nothing found" message)."""
    item_css: str
    """One result, within the list."""
    fields: Mapping[str, tuple[str, str]]
    """`ScrapedPlace` field -> (selector within the item, DOM property: "innerText" or "href")."""
    required: tuple[str, ...]
    """Fields every result should have. When no result of a page has the field's element, the layout
    changed; a result lacking it, or showing it blank, is kept with the field blank (and a warning),
    for validation to quarantine: one bad listing must not stop the whole crawl."""
    error_css: str
    """The site's own "could not load, try again" message, within the list."""
    empty_css: str
    """The site's "nothing found" message, within the list."""
    current_page_css: str
    """The pagination's marker of the page shown (its text is the page number)."""
    total_css: str | None = None
    """Where the site announces how many places it found (the digits of its text: "총 1,234개" is 1234);
    None when the site shows no total. Lets the walk check that it read every place."""


# ScrapedPlace's fields that may be None: a blank one is None, a blank str field is "".
NULLABLE_FIELDS = ("phone", "detail_url")


def replaced(element: WebElement) -> Callable[[WebDriver], bool]:
    """A wait condition: `element` (a list item, a whole document) is no longer in the page.

    Like selenium's `staleness_of`, but ChromeDriver sometimes reports an element of a document
    replaced by a navigation as an "unknown error" instead of as stale (SeleniumHQ/selenium#15401):
    that answer means replaced too, not a failure."""

    def condition(driver: WebDriver) -> bool:
        try:
            return staleness_of(element)(driver)
        except WebDriverException as error:
            if "does not belong to the document" in (error.msg or ""):
                return True
            raise

    return condition


def first_child(driver: WebDriver, layout: ResultList) -> WebElement | None:
    """The first element inside the result list, to notice later that the list was replaced."""
    children = driver.find_elements(By.CSS_SELECTOR, f"{layout.list_css} > *")
    return children[0] if children else None


def current_page(driver: WebDriver, layout: ResultList) -> int | None:
    """The page number the pagination marks as shown, or None when there is no marker."""
    text = text_of(driver, layout.current_page_css)
    return int(text) if text and text.isdigit() else None


def announced_total(driver: WebDriver, layout: ResultList) -> int | None:
    """How many places the site says it found (`layout.total_css`), or None when it shows no such number."""
    if layout.total_css is None:
        return None
    digits = re.sub(r"\D", "", text_of(driver, layout.total_css) or "")
    return int(digits) if digits else None


def wait_for_results(
    driver: WebDriver, settings: ScrapeSettings, layout: ResultList, *, replacing: WebElement | None, page: int,
    scraper: str,
) -> None:
    """Wait until the result list has content and, if `replacing` is given, that old content is gone.

    The content may be results, an error or a "nothing found" message: `read_results` tells them
    apart. A list that never appears at all is a layout change; a list that stays empty is a slow
    or failed request (TimeoutException, retried).
    """

    def settled(driver: WebDriver) -> bool:
        if replacing is not None and not replaced(replacing)(driver):
            return False
        return bool(driver.find_elements(By.CSS_SELECTOR, f"{layout.list_css} > *"))

    try:
        wait_for(driver, settings, settled, what=f"the results of page {page} in {layout.list_css}")
    except TimeoutException:
        if not driver.find_elements(By.CSS_SELECTOR, layout.list_css):
            raise LayoutChangedError.missing(
                f"the result list ({layout.list_css})", page=page, url=driver.current_url, scraper=scraper
            ) from None
        raise


def read_results(
    driver: WebDriver, layout: ResultList, *, source: str, page: int, scraper: str, constants: Mapping[str, str]
) -> list[ScrapedPlace]:
    """Read the results shown for `page` (after `wait_for_results`).

    `constants` fills fields the list does not show, e.g. the type label of a single-type list.
    Raises TransientPageError when the site shows its error message instead of results, or its
    "nothing found" message on a page it offered (any page after the first; page 1 unless the
    site announces a total of 0), and LayoutChangedError when the results are not where `layout`
    says or the page shown is another. A result lacking a required field is kept, the field blank.
    """
    url = driver.current_url
    rows = read_rows(driver, driver.find_element(By.CSS_SELECTOR, layout.list_css), layout.item_css, layout.fields)
    if not rows:
        error = text_of(driver, f"{layout.list_css} {layout.error_css}")
        if error is not None:
            raise TransientPageError(f"the site showed {error!r} instead of page {page} ({url})")
        nothing_found = text_of(driver, f"{layout.list_css} {layout.empty_css}")
        if nothing_found is not None:
            return _nothing_found(driver, layout, source=source, page=page, url=url, message=nothing_found)
        raise LayoutChangedError.missing(f"list items ({layout.item_css})", page=page, url=url, scraper=scraper)
    shown = current_page(driver, layout)
    if shown != page:
        # Reading page 2 twice (or page 12 as page 3) would silently duplicate or skip places.
        raise LayoutChangedError.missing(
            f"page number {page} marked as shown ({layout.current_page_css}; found {shown})",
            page=page, url=url, scraper=scraper,
        )
    for key in layout.required:
        if all(row[key] is None for row in rows):
            raise LayoutChangedError.missing(
                f"the {key} ({layout.fields[key][0]}) in any of the {len(rows)} results", page=page, url=url,
                scraper=scraper,
            )
    places = []
    for position, row in enumerate(rows, start=1):
        blank = [key for key in layout.required if not row[key]]
        if blank:
            log.warning("%s: result %d on page %d (%s) shows no %s; kept with %s blank, for validation to "
                        "quarantine", source, position, page, url, " or ".join(blank),
                        "it" if len(blank) == 1 else "them")
        values: dict[str, str | None] = {"phone": None, "detail_url": None, **constants}
        values.update({key: value or (None if key in NULLABLE_FIELDS else "") for key, value in row.items()})
        places.append(ScrapedPlace(source=source, page=page, position=position, **values))
    return places


def _nothing_found(
    driver: WebDriver, layout: ResultList, *, source: str, page: int, url: str, message: str
) -> list[ScrapedPlace]:
    """The site showed its "nothing found" message for `page`: [] when that is its answer, else TransientPageError.

    Only a first page can truly have nothing, and only when the site says so by its total; a later
    page was offered by the pagination, so its places exist and were not shown (a site hiccup).
    """
    offered_but_empty = f"the site offered page {page} but showed nothing on it ({message!r}; {url})"
    if page > 1:
        raise TransientPageError(offered_but_empty)
    total = announced_total(driver, layout)
    if total == 0:
        log.warning("%s: the site found nothing (%r) and announces a total of 0 (%s)", source, message, url)
        return []
    where = f"{layout.total_css} shows no number" if layout.total_css else "its ResultList has no total_css"
    announced = f"announces {total} places" if total is not None else f"announces no total ({where})"
    raise TransientPageError(f"{offered_but_empty}, and {announced}")


# One round trip per page instead of several per field: fast, and a consistent snapshot (the
# list cannot re-render between two reads). innerText is the text as rendered, like WebElement.text.
_READ_ROWS = """
const [list, itemSelector, fields] = arguments;
return Array.from(list.querySelectorAll(itemSelector), (item) => {
  const row = {};
  for (const [key, [selector, property]] of Object.entries(fields)) {
    const element = item.querySelector(selector);
    const value = element ? element[property] : null;
    row[key] = element === null ? null : typeof value === "string" ? value.trim() : "";
  }
  return row;
});
"""


def read_rows(
    driver: WebDriver, results: WebElement, item_css: str, row_fields: Mapping[str, tuple[str, str]]
) -> list[dict[str, str | None]]:
    """Read every item of a result list: `row_fields` maps a key to (CSS selector within the item,
    DOM property: "innerText" for text, "href" for an absolute link). A value is None when the item has
    no such element, "" when the element is there but blank (so that a layout change, the element
    gone from every item, can be told from one listing left blank)."""
    return driver.execute_script(_READ_ROWS, results, item_css, {key: list(spec) for key, spec in row_fields.items()})


def text_of(driver: WebDriver, css: str) -> str | None:
    """Text of the first element matching `css`, or None when there is none."""
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text.strip() if found else None


def require_element(driver: WebDriver, css: str, what: str, *, page: int, scraper: str) -> WebElement:
    """The first element matching `css`; LayoutChangedError naming `what` when there is none."""
    found = driver.find_elements(By.CSS_SELECTOR, css)
    if not found:
        raise LayoutChangedError.missing(f"{what} ({css})", page=page, url=driver.current_url, scraper=scraper)
    return found[0]


def choose_option(driver: WebDriver, select_css: str, text: str, *, page: int, scraper: str) -> None:
    """Choose the option shown as `text` in a select; LayoutChangedError when either is missing."""
    select = require_element(driver, select_css, "a select of the search form", page=page, scraper=scraper)
    try:
        Select(select).select_by_visible_text(text)
    except NoSuchElementException:
        raise LayoutChangedError.missing(
            f"the option {text!r} in {select_css}", page=page, url=driver.current_url, scraper=scraper
        ) from None


def raise_for_http_error(driver: WebDriver, what: str) -> None:
    """Raise TransientPageError when the document just loaded came with an HTTP error status.

    WebDriver does not expose status codes; the browser's Navigation Timing entry does
    (responseStatus, Chromium 109+). 0 or missing means unknown, and is let through.
    """
    status = driver.execute_script(
        "const entry = performance.getEntriesByType('navigation')[0];"
        "return entry ? entry.responseStatus || 0 : 0;"
    )
    if status >= 400:
        raise TransientPageError(f"HTTP {status} for {what} ({driver.current_url})")


# Imported here, after the shared machinery they build on, so that importing either module
# first works (each imports this package, which must then already define what they use).
from retention.places.scrapers.digital_learning_centers import DigitalLearningCenters  # noqa: E402
from retention.places.scrapers.kt_store_finder import KtStoreFinder  # noqa: E402

SOURCES: dict[str, PlaceSource] = {
    KT_STORE_FINDER: KtStoreFinder(),
    DIGITAL_LEARNING_CENTERS: DigitalLearningCenters(),
}


def scrape(source_name: str, settings: ScrapeSettings) -> list[ScrapedPlace]:
    """Open a headless Chromium, read every page of one source, close the browser."""
    if source_name not in SOURCES:
        raise ValueError(f"unknown place source {source_name!r}; expected one of {sorted(SOURCES)}")
    if settings.base_url is None:
        raise ValueError(
            f"no URL to scrape {source_name} from: set {BASE_URL_VARIABLES[source_name]} to the page the "
            f"scraper starts on, or use the bundled 2023 crawl instead"
        )
    started = time.monotonic()
    with headless_chromium(settings) as driver:
        try:
            places = SOURCES[source_name].scrape(driver, settings)
        except (LayoutChangedError, ScrapeError) as error:
            shot = _save_screenshot(driver, source_name)
            if shot:
                raise type(error)(f"{error} (screenshot of the page: {shot})") from error
            raise
    log.info("%s: scraped %d places from %s in %.1fs", source_name, len(places), settings.base_url,
             time.monotonic() - started)
    return places


def _save_screenshot(driver: WebDriver, source_name: str) -> str | None:
    """What the browser showed when the scrape failed, in the artifact store, for whoever
    updates the scraper; never hides the scrape's own error."""
    import datetime as dt

    from retention.modeling.registry import artifact_store, write_bytes

    try:
        stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
        uri = f"{artifact_store().rstrip('/')}/places/failures/{source_name}-{stamp}.png"
        write_bytes(uri, driver.get_screenshot_as_png())
        return uri
    except Exception as error:  # the screenshot is a courtesy; the scrape's error is what matters
        log.warning("could not save a screenshot of the failed %s page: %s", source_name, error)
        return None
