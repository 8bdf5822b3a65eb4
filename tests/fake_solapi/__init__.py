"""A fake of SOLAPI's messages API on loopback, for the official `solapi` SDK to talk to.

The endpoints and fields are the SDK's own (solapi 5.0.3): `POST /messages/v4/send-many/detail`
(body `{"messages": [{"to", "from", "text", "type", "autoTypeDetect", "country"}], "allowDuplicates",
"agent"}`, answered with `groupInfo`, `messageList`, `failedMessageList`) and
`GET /messages/v4/list-old?to=&startDate=&dateType=CREATED&limit=&messageId=&startKey=` (answered
with `limit`, `messageList` keyed by message id, `nextKey`). The `HMAC-SHA256 ApiKey=..., Date=...,
salt=..., signature=...` header is checked against the account's secret. Only the registered
sender numbers may send (발신번호 사전등록): any other gets a failed message with status code
1062. A stored message's status moves one step per lookup by id: 2000 (accepted), 3000 (with the
carrier), 4000 (received), unless scripted otherwise.

Usage::

    with serve_fake_solapi() as solapi:
        transport = SolapiTransport(solapi.api_key, solapi.api_secret, sender_number=solapi.sender_number,
                                    base_url=solapi.base_url)
        solapi.answer_late(6.0)        # stores the message, answers after the SDK's 5 s timeout
        solapi.fail_next(500)          # the next send answers a 5xx
        solapi.messages                # every message accepted (a copy)

Built on the loopback scaffold the fake Twilio uses (`loopback.ApiServer`, `answer_json`, `RequestLog`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fake_solapi.api import FakeSolapiApi, Stored
from fake_solapi.server import serving
from loopback import RequestLog

__all__ = ["FakeSolapi", "Stored", "serve_fake_solapi"]


@dataclass(frozen=True)
class FakeSolapi:
    base_url: str
    api_key: str
    api_secret: str
    sender_number: str
    _api: FakeSolapiApi
    _log: RequestLog

    @property
    def messages(self) -> list[Stored]:
        return self._api.stored()

    @property
    def requests(self) -> list[dict]:
        return self._log.snapshot()

    def sends(self) -> list[dict]:
        return [request for request in self.requests if request["method"] == "POST"]

    def answer_late(self, seconds: float, *, stored: bool = True, times: int = 1) -> None:
        """The next `times` sends answer after `seconds`; with `stored` the message is kept first
        (the gateway accepted it and only its answer is lost)."""
        self._api.script("late", times=times, seconds=seconds, stored=stored)

    def fail_next(self, status: int = 500, *, times: int = 1, error_code: str = "UnknownError") -> None:
        self._api.script("fail", times=times, status=status, error_code=error_code)

    def deliver_as(self, to_national: str, status_code: str) -> None:
        """Messages to `to_national` end in `status_code` (e.g. 3059) instead of 4000."""
        self._api.final_codes[to_national] = status_code

    def airflow_connection(self, *, sender_number: str | None = None) -> str:
        extra = {} if sender_number == "" else {"sender_number": sender_number or self.sender_number}
        return json.dumps({"conn_type": "generic", "login": self.api_key, "password": self.api_secret,
                           "host": self.base_url, "extra": extra})


@contextmanager
def serve_fake_solapi(*, sender_number: str = "0212345678") -> Iterator[FakeSolapi]:
    api = FakeSolapiApi(registered_senders={sender_number})
    log: RequestLog = RequestLog()
    with serving(api, log) as base_url:
        yield FakeSolapi(base_url, api.api_key, api.api_secret, sender_number, api, log)
