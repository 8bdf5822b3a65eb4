"""A headless Chromium for the place scrapers: local binaries only, a throw-away profile, always closed.

Why this shape:
- The browser and its driver are the distribution packages (`chromium`, `chromium-driver`),
  named explicitly. Left to itself, Selenium Manager would try to download both from the
  internet, which workers do not have (and should not do at run time anyway).
- A fresh temporary profile per scrape: no cookies or cache carried from last month, nothing
  left in the worker's home; it is deleted afterwards.
- `quit()` in a `finally`: a failed scrape must not leave Chromium processes behind on a worker
  that runs every month.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from retention.places.scrapers import ScrapeSettings

CHROMIUM_BINARY_VARIABLE = "RETENTION_CHROMIUM_BINARY"
CHROMEDRIVER_VARIABLE = "RETENTION_CHROMEDRIVER"
DEFAULT_CHROMIUM_BINARY = "/usr/bin/chromium"
DEFAULT_CHROMEDRIVER = "/usr/bin/chromedriver"

# Temporary profiles start with this, which also lets tests find any browser left running.
PROFILE_PREFIX = "retention-chromium-"

CHROMIUM_ARGUMENTS = (
    "--headless=new",
    # Workers run as root in containers, where Chromium's sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    # Container /dev/shm is often 64 MB, too small for Chromium's shared memory: use /tmp.
    "--disable-dev-shm-usage",
    # No traffic of the browser's own: only the pages the scraper asks for.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Korean pages as a Korean visitor sees them; a tall window so a result page needs no scrolling.
    "--lang=ko-KR",
    "--window-size=1280,2000",
)


class BrowserUnavailableError(RuntimeError):
    """Chromium or chromedriver is missing, or they could not start a browser together."""


def local_binaries() -> tuple[str, str]:
    """The Chromium binary and chromedriver to use, checked to exist; raises BrowserUnavailableError."""
    binary = os.environ.get(CHROMIUM_BINARY_VARIABLE) or DEFAULT_CHROMIUM_BINARY
    driver = os.environ.get(CHROMEDRIVER_VARIABLE) or DEFAULT_CHROMEDRIVER
    for what, path, variable in (("Chromium", binary, CHROMIUM_BINARY_VARIABLE),
                                 ("chromedriver", driver, CHROMEDRIVER_VARIABLE)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise BrowserUnavailableError(
                f"{what} not found at {path}: install the distribution packages `chromium chromium-driver` "
                f"(README, 'The two commands') or set {variable}"
            )
    return binary, driver


@contextmanager
def headless_chromium(settings: ScrapeSettings) -> Iterator[WebDriver]:
    """A headless Chromium sending `settings.user_agent`, closed (with its profile deleted) on exit."""
    binary, driver_path = local_binaries()
    profile = tempfile.mkdtemp(prefix=PROFILE_PREFIX)
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for argument in CHROMIUM_ARGUMENTS:
            options.add_argument(argument)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--user-agent={settings.user_agent}")
        # Selenium lets an environment variable (SE_CHROMEDRIVER by default) override the path
        # given here; pointing it at our own variable keeps one setting in charge of the driver.
        service = Service(executable_path=driver_path, driver_path_env_key=CHROMEDRIVER_VARIABLE)
        try:
            driver = webdriver.Chrome(service=service, options=options)
        except WebDriverException as error:
            reason = (error.msg or type(error).__name__).strip().splitlines()[0]
            raise BrowserUnavailableError(
                f"chromedriver at {driver_path} could not start Chromium at {binary}: {reason}. Both must come "
                f"from the same release (compare `{binary} --version` and `{driver_path} --version`); reinstall "
                f"the distribution packages `chromium chromium-driver` together"
            ) from error
        try:
            driver.set_page_load_timeout(settings.timeout_seconds)
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
