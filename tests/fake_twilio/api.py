"""What the fake answers: Twilio's Messages resource (API 2010-04-01), in memory, with scripted failures.

Shapes follow Twilio's documented JSON (snake_case fields, RFC 2822 dates, error bodies with
`code`, `message`, `more_info`, `status`) closely enough for the official `twilio` client to
parse them. Semantics kept because the transport depends on them:

- a create answers 201 with status `accepted` (Messaging Service) or `queued` (From number);
- each fetch of a message moves it one step along its progression (to `delivered` by default);
- `date_sent` stays empty until a message reaches `sent`, and the `DateSent` filters of a list
  only see messages that have one; lists are newest first and paginated with `next_page_uri`.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
SENT_STATUSES = ("sent", "delivered", "undelivered", "read")
DEFAULT_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number {to} is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "Message cannot be sent with the current combination of 'To' ({to}) and/or 'From' parameters",
    21614: "'To' number {to} is not a valid mobile number",
    30007: "Message filtered",
}


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    """Answer only after this long (the message, if any, is already stored)."""


@dataclass(frozen=True)
class AcceptedMessage:
    """A message the fake accepted, as the test sees it."""

    sid: str
    to: str
    body: str
    sender: str
    """The From number or the Messaging Service SID used."""
    at: datetime
    answered_late: bool
    """True when the fake stored it but answered after a scripted delay (the ambiguous case)."""


@dataclass
class Rule:
    """A scripted answer for the next matching request(s) (see `FakeTwilio` for the helpers)."""

    status: int
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0
    store: bool = False
    """With a delay: store the message before the late answer (True) or drop it (False)."""
    to: str | None = None
    method: str = "POST"
    times: int | None = 1
    """How many requests this rule answers; None: all of them."""
    after_sends: int = 0
    """Applies only once this many messages have been accepted."""

    def matches(self, method: str, to: str | None, accepted: int) -> bool:
        return (self.times != 0 and method == self.method and accepted >= self.after_sends
                and (self.to is None or self.to == to))


@dataclass
class _Message:
    sid: str
    account_sid: str
    to: str
    body: str
    from_number: str | None
    messaging_service_sid: str | None
    created_at: datetime
    progression: tuple[str, ...]
    error_code: int | None = None
    step: int = 0
    sent_at: datetime | None = None
    answered_late: bool = False

    @property
    def status(self) -> str:
        return self.progression[self.step]

    def advance(self, now: datetime) -> None:
        self.step = min(self.step + 1, len(self.progression) - 1)
        if self.status in SENT_STATUSES and self.sent_at is None:
            self.sent_at = now

    def resource(self) -> dict[str, Any]:
        failed = self.status in ("undelivered", "failed")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": format_datetime(self.created_at),
            "date_sent": format_datetime(self.sent_at) if self.sent_at else None,
            "date_updated": format_datetime(self.sent_at or self.created_at),
            "direction": "outbound-api",
            "error_code": self.error_code if failed else None,
            "error_message": DEFAULT_MESSAGES.get(self.error_code or 0) if failed else None,
            "from": self.from_number,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json"},
            "to": self.to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json",
        }


def error(status: int, code: int, message: str | None = None, **values: str) -> Reply:
    text = message or DEFAULT_MESSAGES.get(code, "Error").format_map({"to": "", "path": "", **values})
    return Reply(status, {"code": code, "message": text, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                          "status": status})


def _scripted_error(rule: Rule, to: str | None) -> Reply:
    code = rule.code or (20429 if rule.status == 429 else 20500)
    reply = error(rule.status, code, rule.message, to=to or "")
    headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
    return Reply(reply.status, reply.body, headers)


class FakeTwilioApi:
    """The fake's state; `handle` is called from the server's threads, so everything is locked."""

    def __init__(self, account_sid: str, auth_token: str, *, max_page_size: int = 1000,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.account_sid = account_sid
        self.clock = clock or (lambda: datetime.now(UTC))
        """Twilio's own clock: it stamps messages (date_created, date_sent) with it."""
        self.auth_token = auth_token
        self.max_page_size = max_page_size
        self._lock = threading.Lock()
        self._messages: list[_Message] = []
        self._rules: list[Rule] = []
        self._final_status: dict[str, tuple[str, int | None]] = {}

    # -- scripting (from the test's thread) --

    def add_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def deliver_as(self, to: str, status: str, error_code: int | None) -> None:
        with self._lock:
            self._final_status[to] = (status, error_code)

    def set_status(self, message_sid: str, status: str, error_code: int | None) -> None:
        with self._lock:
            message = next(m for m in self._messages if m.sid == message_sid)
            message.progression = (*message.progression[: message.step + 1], status)
            message.error_code = error_code
            message.advance(self.clock())

    def accepted(self) -> list[AcceptedMessage]:
        with self._lock:
            return [AcceptedMessage(m.sid, m.to, m.body, m.messaging_service_sid or m.from_number or "",
                                    m.created_at, m.answered_late) for m in self._messages]

    # -- the API --

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
               credentials: tuple[str, str] | None) -> Reply:
        if credentials != (self.account_sid, self.auth_token):
            reply = error(401, 20003)
            return Reply(reply.status, reply.body, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        prefix = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages"
        if path == prefix + ".json" and method == "POST":
            return self._create(form)
        match = re.fullmatch(re.escape(prefix) + r"/(SM[0-9a-f]{32})\.json", path)
        if method != "GET" or not (path == prefix + ".json" or match):
            return error(404, 20404, path=path)
        rule = self._take_rule(method, query.get("To"))
        if rule is not None and not rule.delay_seconds:
            return _scripted_error(rule, query.get("To"))
        reply = self._fetch(match.group(1), path) if match else self._list(query)
        return Reply(reply.status, reply.body, reply.headers, rule.delay_seconds if rule else 0.0)

    def _take_rule(self, method: str, to: str | None) -> Rule | None:
        with self._lock:
            rule = next((r for r in self._rules if r.matches(method, to, len(self._messages))), None)
            if rule is not None and rule.times is not None:
                rule.times -= 1
            return rule

    def _create(self, form: dict[str, str]) -> Reply:
        to, body = form.get("To", ""), form.get("Body", "")
        from_number, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return error(400, 21604)
        if not body:
            return error(400, 21602)
        if not (from_number or service):
            return error(400, 21603)
        if service and not MESSAGING_SERVICE_SID.match(service):
            return error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if not E164.match(to):
            return error(400, 21211, to=to)
        rule = self._take_rule("POST", to)
        if rule is not None and not rule.delay_seconds:
            return _scripted_error(rule, to)
        if rule is not None and not rule.store:  # lost on the way: nothing stored, a late 503
            reply = error(503, 20503, "Service Unavailable")
            return Reply(reply.status, reply.body, delay_seconds=rule.delay_seconds)
        first = "accepted" if service else "queued"
        with self._lock:
            final, error_code = self._final_status.get(to, ("delivered", None))
            message = _Message(sid("SM"), self.account_sid, to, body, from_number, service, self.clock(),
                               (first, "queued", "sending", "sent", final) if service
                               else (first, "sending", "sent", final),
                               error_code=error_code, answered_late=rule is not None)
            self._messages.append(message)
            resource = message.resource()
        return Reply(201, resource, delay_seconds=rule.delay_seconds if rule else 0.0)

    def _fetch(self, message_sid: str, path: str) -> Reply:
        with self._lock:
            message = next((m for m in self._messages if m.sid == message_sid), None)
            if message is None:
                return error(404, 20404, path=path)
            message.advance(self.clock())
            return Reply(200, message.resource())

    def _list(self, query: dict[str, str]) -> Reply:
        page = int(query.get("Page") or 0)
        size = min(int(query.get("PageSize") or 50), self.max_page_size)
        with self._lock:
            found = [m for m in self._messages if _listed(m, query)]
            found.sort(key=lambda m: m.created_at, reverse=True)
            records = [m.resource() for m in found[page * size: (page + 1) * size]]
        base = {key: value for key, value in query.items() if key not in ("Page", "PageToken")}
        base["PageSize"] = str(size)

        def uri(number: int) -> str:
            return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json?" + urlencode(
                {**base, "Page": number, "PageToken": f"PA{number}"})

        more = (page + 1) * size < len(found)
        return Reply(200, {
            "messages": records,
            "start": page * size,
            "end": page * size + max(len(records) - 1, 0),
            "page": page,
            "page_size": size,
            "uri": uri(page),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        })


def _listed(message: _Message, query: dict[str, str]) -> bool:
    """Twilio's list filters: exact To/From; DateSent on the day, DateSent> from, DateSent< up to
    (a bare date covers its whole day). Messages not sent yet have no date and never match these."""
    if query.get("To") not in (None, message.to) or query.get("From") not in (None, message.from_number):
        return False
    sent = message.sent_at
    for key, keep in (("DateSent", lambda start, end: start <= sent < end),
                      ("DateSent>", lambda start, end: sent >= start),
                      ("DateSent<", lambda start, end: sent < end)):
        if key in query and (sent is None or not keep(*_span(query[key]))):
            return False
    return True


def _span(value: str) -> tuple[datetime, datetime]:
    """The instants a filter value covers: a `YYYY-MM-DD` day (UTC), or one `...THH:MM:SSZ` second."""
    start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return start, start + (timedelta(seconds=1) if "T" in value else timedelta(days=1))
