"""The HTTP side of the fake SOLAPI: JSON in and out, every request logged before it is answered,
on the loopback scaffold the fake Twilio uses (`loopback.ApiServer`, `answer_json`)."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from fake_solapi.api import FakeSolapiApi
from loopback import ApiServer, RequestLog, answer_json


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            status, reply, delay = self.server.api.handle(self.command, url.path, query, body,
                                                          self.headers.get("Authorization", ""))
        except Exception as error:  # a bug in the fake: show it in the answer, not as a hung test
            status, reply, delay = 500, {"errorCode": "FakeError", "errorMessage": repr(error)}, 0.0
        self.server.log.add({"method": self.command, "path": url.path, "query": query, "body": body,
                             "status": status, "at": time.monotonic()})
        answer_json(self, status, reply, delay=delay)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature of the base class
        pass  # the request log is the record


class _Server(ApiServer):
    def __init__(self, api: FakeSolapiApi, log: RequestLog) -> None:
        super().__init__(_Handler)
        self.api, self.log = api, log


def serving(api: FakeSolapiApi, log: RequestLog) -> AbstractContextManager[str]:
    """Serve `api` on a free loopback port in a background thread; yields the base URL."""
    return _Server(api, log).serve("fake-solapi")
