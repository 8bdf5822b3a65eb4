"""The plumbing under the fixture sites: one loopback HTTP server per site, a request log, test knobs.

A site (`Site` subclass) turns a request into a `Response`; the handler here records every
request (path, user agent, time) before answering, so tests can check what a scraper sent and
how fast. Standard library only, so the fixture runs wherever the tests run.
"""

from __future__ import annotations

import json
import string
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from loopback import RequestLog, serve_in_thread

STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class SiteOptions:
    """How the fixture sites misbehave, for tests (see `serve_place_sites`)."""

    render_delay_ms: int = 300
    broken_page: int | None = None
    failing_page: int | None = None
    failures: int = 1
    kt_rows: int | None = None
    venue_rows: int | None = None
    empty_page: int | None = None
    empty_answers: int = 1
    blank_row: int | None = None
    blank_field: str = "name"
    blank_markup: str = "empty"
    announced_total: int | None = None
    show_total: bool = True
    pager_quote: str = ""

    def __post_init__(self) -> None:
        for name in ("broken_page", "failing_page", "empty_page", "blank_row"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} is a page or row number (1 or more), got {value}")
        for name in ("render_delay_ms", "failures", "empty_answers", "announced_total"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more, got {value}")
        choices = {"blank_field": ("name", "address"), "blank_markup": ("empty", "missing"),
                   "pager_quote": ("", "'", '"')}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def blank(self, row: int, value: str) -> str | None:
        """`value` of the 0-based `row`, or as `blank_row` shows it: "" (empty markup) or None (element left out)."""
        if self.blank_row is None or row != self.blank_row - 1:
            return value
        return "" if self.blank_markup == "empty" else None


@dataclass(frozen=True)
class RecordedRequest:
    """One request a site received."""

    site: str
    """`KT_STORE_FINDER` or `DIGITAL_LEARNING_CENTERS`."""
    kind: str
    """"page" (an HTML document), "data" (the JSON behind a result page), "detail", "static" or "other"."""
    method: str
    path: str
    """Path and query string, as requested."""
    page: int | None
    """The result page asked for, for "page" and "data" requests of the result list."""
    user_agent: str
    status: int
    at: float
    """time.monotonic() when the request arrived."""


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    kind: str
    page: int | None = None


class Site:
    """One fixture site: subclasses answer `respond`; this class keeps the failure budget."""

    name: str

    def __init__(self, options: SiteOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._failures_left = options.failures
        self._empty_answers_left = options.empty_answers

    def respond(self, method: str, path: str, query: dict[str, str]) -> Response:
        raise NotImplementedError

    def should_fail(self, page: int) -> bool:
        """True for the first `options.failures` requests of result page `options.failing_page`."""
        with self._lock:
            if page != self.options.failing_page or self._failures_left == 0:
                return False
            self._failures_left -= 1
            return True

    def should_answer_empty(self, page: int) -> bool:
        """True for the first `options.empty_answers` requests of result page `options.empty_page`."""
        with self._lock:
            if page != self.options.empty_page or self._empty_answers_left == 0:
                return False
            self._empty_answers_left -= 1
            return True

    def total(self, found: int) -> int:
        """The total of places the site announces: `found`, unless `options.announced_total` says otherwise."""
        return found if self.options.announced_total is None else self.options.announced_total

    def page_config(self) -> str:
        """The knobs the page's JavaScript reads (window.SITE_CONFIG), as a JSON literal."""
        return json.dumps({"renderDelayMs": self.options.render_delay_ms, "brokenFromPage": self.options.broken_page,
                           "showTotal": self.options.show_total, "pagerQuote": self.options.pager_quote})


def html(body: str, *, status: int = 200, kind: str = "page", page: int | None = None) -> Response:
    return Response(status, "text/html; charset=utf-8", body.encode("utf-8"), kind, page)


def json_response(data: object, *, status: int = 200, page: int | None = None) -> Response:
    return Response(status, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode("utf-8"),
                    "data", page)


def static(name: str) -> Response:
    content_type = "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css; charset=utf-8"
    return Response(200, content_type, (STATIC_DIR / name).read_bytes(), "static")


def not_found(path: str) -> Response:
    return html(f"<!DOCTYPE html><title>404</title><h1>404 Not Found</h1><p>{path}</p>", status=404, kind="other")


def template(file_name: str, /, **values: str) -> str:
    """A page from static/, with `$placeholders` filled (values must already be HTML-escaped)."""
    return string.Template((STATIC_DIR / file_name).read_text(encoding="utf-8")).substitute(values)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        # Query string and form body together, as a Spring controller binds them.
        fields = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            fields.update(parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
        query = {key: values[-1] for key, values in fields.items()}
        site = self.server.site
        try:
            response = site.respond(self.command, url.path, query)
        except Exception as error:  # a bug in the fixture: show it in the page, not as a hung test
            response = html(f"<h1>fixture error</h1><pre>{error!r}</pre>", status=500, kind="other")
        self.server.log.add(RecordedRequest(
            site=site.name, kind=response.kind, method=self.command, path=self.path, page=response.page,
            user_agent=self.headers.get("User-Agent", ""), status=response.status, at=arrived,
        ))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature of the base class
        pass  # the request log is the record; stderr noise would only clutter test output


class _SiteServer(ThreadingHTTPServer):
    def __init__(self, site: Site, log: RequestLog) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site
        self.log = log


def serving(site: Site, log: RequestLog) -> AbstractContextManager[str]:
    """Serve `site` on a free loopback port in a background thread; yields its origin."""
    return serve_in_thread(_SiteServer(site, log), f"place-site-{site.name}")
