"""SMS through Twilio's official client: paced, retried, and never sent twice on a timeout.

Never send twice: a timed-out create is ambiguous (Twilio may have created the message and
only the answer was lost), so `TwilioTransport` does not simply retry it. It first asks Twilio
for messages to that number created since the attempt began (`sent_to_since`) and treats one
with the same body as sent. Twilio's lists can lag a moment behind a create, hence a short
wait before asking (`RETENTION_SMS_RECHECK_DELAY_SECONDS`); the outbox's crash recovery uses
the same call for rows left in `sending`.

Only Twilio ever sees a number in full; the account SID and auth token appear in no log, error
or repr (`twilio_http` scrubs the client's and urllib3's log lines).

The Airflow connection (`RETENTION_TWILIO_CONN_ID`, default `twilio_default`): login = Account
SID, password = auth token, extra `messaging_service_sid` or `from_number`, optional host = API
base URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException

from retention.outreach.transports import (
    DeliveryStatus,
    SendRequest,
    SendResult,
    SentMessage,
    aware_utc,
    mask_number,
    scrub,
    utc_now,
)
from retention.outreach.transports.errors import PermanentSendError, SendError, TransientSendError, permanent_error
from retention.outreach.transports.pacing import IntervalLimiter, SendSettings
from retention.outreach.transports.twilio_http import (
    TwilioHttp,
    http_failure,
    never_reached_twilio,
    scrub_urllib3_debug_lines,
)

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger(__name__)

T = TypeVar("T")

# Twilio stamps messages with its own clock, to the second: allow for a difference with ours.
CLOCK_SKEW = timedelta(minutes=2)
# Messages Twilio has not sent yet have no date_sent, so the DateSent filter cannot see them:
# the newest few to the number are read as well (one outreach number gets few messages).
RECENT_MESSAGES_READ = 20
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class TwilioTransport:
    """SMS through the official `twilio` client: paced, retried, and never sent twice on a timeout."""

    name = "twilio"
    simulated = False

    def __init__(self, account_sid: str, auth_token: str, *, messaging_service_sid: str | None = None,
                 from_number: str | None = None, base_url: str | None = None,
                 settings: SendSettings | None = None, conn_id: str | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = utc_now, local_fake: bool = False) -> None:
        from twilio.rest import Client

        where = f" (Airflow connection {conn_id!r})" if conn_id else ""
        if not account_sid or not auth_token:
            raise ValueError(f"Twilio needs an Account SID (login) and an auth token (password){where}")
        if not messaging_service_sid and not from_number:
            raise ValueError(f"Twilio needs a sender{where}: extra messaging_service_sid (MG...) "
                             "or from_number (E.164)")
        self.settings = settings or SendSettings()
        self.conn_id = conn_id
        self.base_url = base_url or "https://api.twilio.com"
        self._sender = ({"messaging_service_sid": messaging_service_sid} if messaging_service_sid
                        else {"from_": from_number})
        self._http = TwilioHttp(timeout=self.settings.timeout_seconds, base_url=base_url)
        scrub_urllib3_debug_lines()
        self._client: Client = Client(account_sid, auth_token, account_sid=account_sid, http_client=self._http)
        self._limiter = IntervalLimiter(self.settings.rate_per_second, sleep=sleep)
        self._sleep = sleep
        self._clock = clock
        """When the send window is checked and an attempt began (tests give their own)."""
        self.local_fake = local_fake and urlsplit(self.base_url).hostname in LOOPBACK_HOSTS
        """A fake of Twilio's API on this machine, declared so by the connection (extra
        `local_fake`) AND on loopback: it reaches no one, so a test may give it a simulated clock."""

    def with_clock(self, clock: Callable[[], datetime]) -> TwilioTransport:
        """This transport, acting at `clock` (transport_setup: only for a `local_fake`)."""
        self._clock = clock
        return self

    @classmethod
    def from_connection(cls, connection: Any, *, conn_id: str, settings: SendSettings | None = None) -> TwilioTransport:
        """Built from an Airflow connection: login = Account SID, password = auth token, extra
        `messaging_service_sid` or `from_number`, host = API base URL (tests, proxies)."""
        extra = connection.extra_dejson or {}
        return cls(connection.login or "", connection.password or "",
                   messaging_service_sid=extra.get("messaging_service_sid"), from_number=extra.get("from_number"),
                   base_url=_base_url(connection), settings=settings or SendSettings.from_env(), conn_id=conn_id,
                   local_fake=extra.get("local_fake") is True)

    def __repr__(self) -> str:
        sender = "messaging service" if "messaging_service_sid" in self._sender else "from number"
        return f"TwilioTransport(conn_id={self.conn_id!r}, base_url={self.base_url!r}, sender={sender!r})"

    def send(self, request: SendRequest) -> SendResult:
        attempt_started = self._clock()

        def create() -> SendResult:
            nonlocal attempt_started
            self._limiter.wait()
            attempt_started = self._clock()
            request.check_window(self._clock())  # checked before every attempt: waits may pass 21:00
            message = self._client.messages.create(to=request.to, body=request.body, **self._sender)
            return SendResult(message.sid, str(message.status), message.error_code,
                              scrub(message.error_message) if message.error_message else None)

        def find_after_ambiguous_failure() -> SendResult | None:
            self._sleep(self.settings.recheck_delay_seconds)
            for found in self.sent_to_since(request.to, attempt_started):
                if not found.body or found.body == request.body:  # an empty body: redacted at Twilio
                    return SendResult(found.provider_message_id, found.status, recovered=True)
            return None

        result, attempts = self._with_retries(create, what=f"SMS {request.idempotency_key}",
                                              recover=find_after_ambiguous_failure)
        result = replace(result, attempts=attempts)
        log.info("SMS %s to %s %s at Twilio as %s (%s)%s", request.idempotency_key, mask_number(request.to),
                 "found" if result.recovered else "accepted", result.provider_message_id, result.status,
                 f" after {attempts} attempts" if attempts > 1 else "")
        return result

    def status(self, provider_message_id: str) -> str:
        return self.delivery(provider_message_id).status

    def delivery(self, provider_message_id: str) -> DeliveryStatus:
        """The message's current status, with Twilio's error code and (scrubbed) message when it
        was not delivered; raises `LookupError` when Twilio has no such message."""
        def fetch() -> DeliveryStatus:
            message = self._client.messages(provider_message_id).fetch()
            return DeliveryStatus(str(message.status), message.error_code,
                                  scrub(message.error_message) if message.error_message else None)

        try:
            return self._with_retries(fetch, what=f"status of {provider_message_id}")[0]
        except PermanentSendError as error:
            if error.http_status == 404:
                raise LookupError(f"Twilio has no message {provider_message_id!r}") from error
            raise

    def sent_to_since(self, to: str, since: datetime) -> list[SentMessage]:
        """Messages to `to` created since `since` (less `CLOCK_SKEW`), newest first. DateSent is
        filtered by day (its documented granularity) and the exact cut made here on date_created."""
        since = aware_utc(since) - CLOCK_SKEW
        day = since.replace(hour=0, minute=0, second=0, microsecond=0)

        def read() -> list[SentMessage]:
            found = {}
            sent = self._client.messages.stream(to=to, date_sent_after=day, page_size=50)
            recent = self._client.messages.stream(to=to, limit=RECENT_MESSAGES_READ)
            for message in [*sent, *recent]:
                if message.date_created is not None and message.date_created >= since:
                    found[message.sid] = SentMessage(message.sid, message.to or to, message.body or "",
                                                     str(message.status), message.date_created)
            return sorted(found.values(), key=lambda message: message.created_at, reverse=True)

        return self._with_retries(read, what=f"messages sent to {mask_number(to)}")[0]

    def _with_retries(self, call: Callable[[], T], *, what: str,
                      recover: Callable[[], T | None] | None = None) -> tuple[T, int]:
        """`call()` until it succeeds, fails for good, or runs out of attempts; with the attempts used.

        A failure after which the request may have been processed (a read timeout, a dropped
        connection) is retried only once `recover()` (when given) has found nothing to return.
        """
        settings = self.settings
        for attempt in range(1, settings.max_attempts + 1):
            try:
                return call(), attempt
            except (TwilioException, requests.RequestException) as error:
                failure = self._transient_or_raise(error, what=what, attempt=attempt,
                                                   may_have_arrived=recover is not None)
            if failure.ambiguous:
                try:
                    recovered = recover()  # type: ignore[misc]
                except (SendError, TwilioException, requests.RequestException) as check_error:
                    raise TransientSendError(
                        f"{failure}; could not check whether Twilio has it ({type(check_error).__name__}): "
                        "check with sent_to_since before sending it again", ambiguous=True, attempts=attempt,
                    ) from None
                if recovered is not None:
                    return recovered, attempt
                # Not listed (yet): Twilio may still be processing the request, and its lists lag,
                # so "not found after a few seconds" is not "not sent". Never created again here:
                # the outbox keeps the message in `sending` and asks again after its lease.
                raise TransientSendError(
                    f"{failure}; Twilio does not list it yet: left for the outbox to check again later "
                    "(never re-sent in the same attempt)", ambiguous=True, attempts=attempt,
                )
            retry_after = failure.retry_after_seconds
            if attempt == settings.max_attempts or (retry_after or 0) > settings.backoff_max_seconds:
                raise failure  # out of attempts, or too long a wait for one task: the caller reschedules
            wait = retry_after if retry_after is not None else min(
                settings.backoff_seconds * 2 ** (attempt - 1), settings.backoff_max_seconds)
            log.warning("%s; attempt %d of %d, retrying in %.2f s", failure, attempt, settings.max_attempts, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transient_or_raise(self, error: Exception, *, what: str, attempt: int,
                            may_have_arrived: bool) -> TransientSendError:
        """The retryable failure `error` stands for; raises `PermanentSendError` for a Twilio 4xx."""
        if isinstance(error, requests.RequestException):
            return TransientSendError(f"{what}: no answer from Twilio ({type(error).__name__})", attempts=attempt,
                                      ambiguous=may_have_arrived and not never_reached_twilio(error))
        failure = http_failure(error)  # type: ignore[arg-type]
        if failure is None:
            raise error
        status, code, message = failure
        if status != 429 and status < 500:
            raise permanent_error(f"{what}: Twilio refused it (HTTP {status}, error {code}): {message}",
                                  code=code, http_status=status, attempts=attempt) from None
        return TransientSendError(f"{what}: Twilio answered HTTP {status} (error {code}): {message}", code=code,
                                  http_status=status, retry_after_seconds=self._http.last_retry_after(),
                                  attempts=attempt)


def _base_url(connection: Any) -> str | None:
    if not connection.host:
        return None
    if "://" in connection.host:
        return connection.host
    base = f"{connection.schema or 'https'}://{connection.host}"
    return f"{base}:{connection.port}" if connection.port else base
