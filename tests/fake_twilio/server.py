"""The HTTP plumbing under the fake Twilio: one loopback server in a thread, and a request log.

Standard library only. Every request is recorded (method, path, query, form, whether its
Basic credentials were right, arrival time) before it is answered, so tests can check what
the client sent and how fast. A scripted late answer waits on an event that the server's
shutdown sets, so no test waits for a client that has long given up.
"""

from __future__ import annotations

import base64
import binascii
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from fake_twilio.api import FakeTwilioApi, sid
from loopback import ApiServer, RequestLog, answer_json


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    """The path alone; the query string is in `query`."""
    query: dict[str, str]
    form: dict[str, str]
    """The form-encoded body of a POST (To, Body, From or MessagingServiceSid)."""
    authorized: bool
    user_agent: str
    status: int
    at: float
    """time.monotonic() when the request arrived."""


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class _Handler(BaseHTTPRequestHandler):
    server: _FakeServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)) if length else {}
        credentials = _credentials(self.headers.get("Authorization"))
        api = self.server.api
        try:
            reply = api.handle(self.command, url.path, query, form, credentials)
            status, body, headers, delay = reply.status, reply.body, reply.headers, reply.delay_seconds
        except Exception as error:  # a bug in the fake: show it in the answer, not as a hung test
            status, body, headers, delay = 500, {"code": 20500, "message": f"fake error: {error!r}"}, {}, 0.0
        self.server.log.add(RecordedRequest(
            method=self.command, path=url.path, query=query, form=form,
            authorized=credentials == (api.account_sid, api.auth_token),
            user_agent=self.headers.get("User-Agent", ""), status=status, at=arrived,
        ))
        answer_json(self, status, body, headers={"Twilio-Request-Id": sid("RQ"), **headers}, delay=delay)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature of the base class
        pass  # the request log is the record


class _FakeServer(ApiServer):
    def __init__(self, api: FakeTwilioApi, log: RequestLog) -> None:
        super().__init__(_Handler)
        self.api = api
        self.log = log


def serving(api: FakeTwilioApi, log: RequestLog) -> AbstractContextManager[str]:
    """Serve `api` on a free loopback port in a background thread; yields the base URL."""
    return _FakeServer(api, log).serve("fake-twilio")
