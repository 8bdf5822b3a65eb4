"""A fake of Twilio's Messages REST API on loopback, for the real `twilio` client to talk to.

Enough of API 2010-04-01 for sending SMS: create (`POST .../Accounts/{sid}/Messages.json`, HTTP
Basic auth checked), fetch (`GET .../Messages/{sid}.json`, the status moving one step per
fetch, to `delivered` unless scripted otherwise) and list (`GET .../Messages.json?To=&DateSent>=`,
newest first, paginated). Nothing reaches the internet and no SMS is ever sent.

Usage::

    from fake_twilio import serve_fake_twilio

    with serve_fake_twilio() as twilio:
        transport = TwilioTransport(twilio.account_sid, twilio.auth_token,
                                    messaging_service_sid=twilio.messaging_service_sid,
                                    base_url=twilio.base_url)
        twilio.reject("+821000000001", 21610)        # that number texted STOP
        twilio.fail_next(429, retry_after="1")       # then the next create is rate limited
        twilio.answer_late(1.0)                      # stores the message, answers after 1 s
        ...
        twilio.messages   # every message accepted (to, body, time), thread-safe copy
        twilio.requests   # every request, with its form, auth check and arrival time

Scripted failures apply to creates (POST) unless `method="GET"`; each answers `times`
requests (None: all) that match `to` (None: any number).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from fake_twilio.api import AcceptedMessage, FakeTwilioApi, Rule, sid
from fake_twilio.server import RecordedRequest, RequestLog, serving

__all__ = ["AcceptedMessage", "FakeTwilio", "RecordedRequest", "serve_fake_twilio"]

MAGIC_FROM_NUMBER = "+15005550006"  # Twilio's documented test "From" number that always passes


@dataclass(frozen=True)
class FakeTwilio:
    """The running fake: where it is, the credentials it accepts, what it received, and its script."""

    base_url: str
    account_sid: str
    auth_token: str
    messaging_service_sid: str
    from_number: str
    _api: FakeTwilioApi
    _log: RequestLog

    @property
    def messages(self) -> list[AcceptedMessage]:
        """Every message accepted, in order, including those answered too late (a copy)."""
        return self._api.accepted()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        return self._log.snapshot()

    def messages_to(self, to: str) -> list[AcceptedMessage]:
        return [message for message in self.messages if message.to == to]

    def creates(self) -> list[RecordedRequest]:
        """The create (POST) requests, answered or not."""
        return [request for request in self.requests if request.method == "POST"]

    def reject(self, to: str, code: int, *, message: str | None = None, status: int = 400,
               times: int | None = None) -> None:
        """Creates to `to` answer a Twilio error (21211 invalid, 21610 unsubscribed, 21614 landline...)."""
        self._api.add_rule(Rule(status, code, message, to=to, times=times))

    def fail_next(self, status: int = 500, *, times: int | None = 1, code: int | None = None,
                  message: str | None = None, retry_after: str | None = None, to: str | None = None,
                  method: str = "POST") -> None:
        """The next `times` matching requests answer `status` (429: with `retry_after` if given)."""
        self._api.add_rule(Rule(status, code, message, retry_after, to=to, method=method, times=times))

    def fail_after(self, sends: int, status: int = 500, *, code: int | None = None, times: int | None = None) -> None:
        """Once `sends` messages have been accepted, creates answer `status`."""
        self._api.add_rule(Rule(status, code, after_sends=sends, times=times))

    def answer_late(self, seconds: float, *, stored: bool = True, times: int = 1, to: str | None = None,
                    method: str = "POST") -> None:
        """Answer after `seconds` (longer than the client's timeout to make it time out). With
        `stored` the message is accepted first, as when only Twilio's answer is lost; without, it
        is dropped (a late 503), as when the request never got through."""
        self._api.add_rule(Rule(201, delay_seconds=seconds, store=stored, to=to, method=method, times=times))

    def deliver_as(self, to: str, status: str, error_code: int | None = None) -> None:
        """Messages created to `to` from now on end in `status` (`undelivered`, `failed`) with `error_code`."""
        self._api.deliver_as(to, status, error_code)

    def set_status(self, message_sid: str, status: str, error_code: int | None = None) -> None:
        """Move one message to `status` now."""
        self._api.set_status(message_sid, status, error_code)

    def airflow_connection(self, *, sender: str = "messaging_service", local_fake: bool = False) -> str:
        """An `AIRFLOW_CONN_...` value (JSON form) for this fake: `sender` is `messaging_service` or
        `from_number`; `local_fake` declares it a fake on loopback (extra `local_fake`), with which
        the outreach accepts a simulated clock (`retention.outreach.transport_setup`)."""
        extra = ({"messaging_service_sid": self.messaging_service_sid} if sender == "messaging_service"
                 else {"from_number": self.from_number})
        if local_fake:
            extra["local_fake"] = True
        return json.dumps({"conn_type": "generic", "login": self.account_sid, "password": self.auth_token,
                           "host": self.base_url, "extra": extra})


@contextmanager
def serve_fake_twilio(*, max_page_size: int = 1000,
                      clock: Callable[[], datetime] | None = None) -> Iterator[FakeTwilio]:
    """Serve a fake Twilio account until the block ends. `max_page_size` caps list pages (to
    make clients follow `next_page_uri`); `clock` is Twilio's clock (default: the real one), the
    same as the platform's when a test injects one."""
    api = FakeTwilioApi(sid("AC"), sid(""), max_page_size=max_page_size, clock=clock)
    log = RequestLog()
    with serving(api, log) as base_url:
        yield FakeTwilio(base_url, api.account_sid, api.auth_token, sid("MG"), MAGIC_FROM_NUMBER, api, log)
