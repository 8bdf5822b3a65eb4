"""The Twilio client's HTTP layer: our API base URL, Retry-After kept, nothing personal logged,
and what a failed request means (an API error, or no answer at all)."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from retention.outreach.transports import mask_sids, scrub, utc_now

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utc_now()).total_seconds())


class TwilioHttp(TwilioHttpClient):
    """The official client's HTTP layer, pointed at `base_url` when one is configured.

    Why here: every request of the client (creates, fetches, and the absolute next-page URLs of
    lists) passes through `http_client.request`, and `http_client` is a documented argument of
    `twilio.rest.Client`. The other hooks are worse: `Domain.base_url` is set per product in
    generated code (`ApiBase.__init__`), and edge/region settings only rename Twilio's own hosts.
    Subclassing also lets us (1) keep Retry-After, which `TwilioRestException` drops, and
    (2) log requests without the account SID in the path or the `To` number in list queries,
    which the base class logs at INFO.
    """

    def __init__(self, *, timeout: float, base_url: str | None = None) -> None:
        super().__init__(timeout=timeout, logger=log)
        self._origin = urlsplit(base_url.rstrip("/")) if base_url else None
        self._last = threading.local()

    def request(self, method: str, url: str, **kwargs: Any) -> Response:  # type: ignore[override]
        self._last.retry_after = None
        if self._origin is not None:
            parts = urlsplit(url)
            url = urlunsplit((self._origin.scheme, self._origin.netloc, self._origin.path + parts.path,
                              parts.query, ""))
        response = super().request(method, url, **kwargs)
        self._last.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return response

    def last_retry_after(self) -> float | None:
        """Retry-After of this thread's last response, in seconds."""
        return getattr(self._last, "retry_after", None)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("Twilio API request: %s %s", kwargs["method"], mask_sids(urlsplit(kwargs["url"]).path))

    def log_response(self, status_code: int, response: Any) -> None:
        log.debug("Twilio API response: HTTP %s", status_code)


class _AccountPathFilter(logging.Filter):
    """urllib3 logs each request line at DEBUG: the account SID is in Twilio's paths and the
    `To` number in list queries. Scrub the lines that go to a Twilio account, leave others be."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/Accounts/AC" in message:
            record.msg, record.args = scrub(message.replace("%2B", "+")), ()
        return True


def scrub_urllib3_debug_lines() -> None:
    """Install the filter above on urllib3's connection pool logger, once per process."""
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, _AccountPathFilter) for existing in urllib3_log.filters):
        urllib3_log.addFilter(_AccountPathFilter())


def http_failure(error: TwilioException) -> tuple[int, int | None, str] | None:
    """(HTTP status, Twilio code, scrubbed message) of an API error; None for other client errors."""
    if isinstance(error, TwilioRestException):
        return error.status, error.code, scrub(str(error.msg))
    if isinstance(error, TwilioServiceException):
        return error.status, error.code, scrub(f"{error.title}: {error.detail or ''}")
    response = error.args[1] if len(error.args) > 1 else None  # list pages: TwilioException(msg, response)
    if isinstance(response, Response):
        try:
            payload = json.loads(response.text)
        except ValueError:
            payload = {}
        return response.status_code, payload.get("code"), scrub(str(payload.get("message", error.args[0])))
    return None


def never_reached_twilio(error: requests.RequestException) -> bool:
    """True when the request cannot have been processed: no connection was ever made."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None  # urllib3's MaxRetryError
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
