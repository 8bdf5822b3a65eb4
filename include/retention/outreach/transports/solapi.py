"""SMS and LMS through SOLAPI, a Korean gateway, with its official Python SDK (`solapi`).

Korean carriers take domestic advertising SMS only from a sender number registered in advance
with the gateway (발신번호 사전등록, Telecommunications Business Act art. 84-2): the number is
the connection's extra `sender_number`, and a transport without one is refused when built. A
message that needs more than one SMS segment (`message.segment_info`: UCS-2, 70 / 67 per part)
or more than the 90 bytes of a Korean SMS (EUC-KR: 45 Hangul syllables) goes as one LMS (up to
2,000 bytes) instead of a split SMS: Korean carriers do not concatenate SMS parts.

Never twice: as with Twilio, a request that timed out after it may have reached SOLAPI is not
sent again in the same attempt. The transport asks SOLAPI for messages to the number created
since the attempt began (`GET /messages/v4/list-old`, the SDK's `get_messages`) and treats one
with the same text as sent; not found, the outbox keeps the row in `sending` and asks again after
its lease (`Transport.sent_to_since`).

What the SDK does, read from its code (solapi 5.0.3, `lib/fetcher.py`, `services/message_service.py`):
`send` POSTs `{base_url}/messages/v4/send-many/detail` with an `HMAC-SHA256 ApiKey=..., Date=...,
salt=..., signature=...` header; a 4xx is raised as a bare `Exception(errorCode, errorMessage)`,
a 5xx as `Exception("UnknownError", body)`, and a request whose every message failed as
`MessageNotReceivedError` (each failed message with its `statusCode`); each request opens its own
`httpx.Client` with httpx's default timeout (5 s) and retries only connection failures. Its base
URL is the service's `base_url` attribute (the connection's host points it at the tests' fake).

The Airflow connection (`RETENTION_SOLAPI_CONN_ID`, default `solapi_default`): login = API key,
password = API secret, extra `sender_number` (the registered number, e.g. `0212345678`), host
only to point the SDK elsewhere. Neither the key nor the secret appears in a log or error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from retention.outreach.message import segment_info
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
from retention.outreach.transports.errors import (
    PermanentSendError,
    SenderConfigurationError,
    TransientSendError,
)
from retention.outreach.transports.pacing import IntervalLimiter, SendSettings

log = logging.getLogger(__name__)

SMS_MAX_BYTES = 90
"""A Korean SMS carries 90 bytes of EUC-KR; longer texts go as LMS."""
DELIVERED_CODE = "4000"  # 수신완료
PENDING_CODES = ("2000", "3000")  # 접수 (accepted), 이통사 전송 (handed to the carrier)
CLOCK_SKEW = timedelta(minutes=2)
_CONFIGURATION_CODES = {"InvalidAPIKey", "SignatureDoesNotMatch", "Unauthorized", "Forbidden", "NotEnoughBalance",
                        "1062"}
"""Request error codes (and the failed-message code 1062, an unregistered sender number) that no
message can pass: stop and fix the connection or the account."""
_TRANSIENT_CODES = {"UnknownError", "TooManyRequests", "Throttled"}


def national_number(e164: str) -> str:
    """`+821012345678` -> `01012345678`: SOLAPI takes domestic numbers (country 82 by default)."""
    if not e164.startswith("+82"):
        raise ValueError(f"SOLAPI sends to Korean numbers only, got {mask_number(e164)}")
    return "0" + e164[3:]


def message_type(text: str) -> str:
    """`SMS` when the text fits one SMS segment and 90 EUC-KR bytes, else `LMS`."""
    try:
        size = len(text.encode("euc-kr"))
    except UnicodeEncodeError:
        size = SMS_MAX_BYTES + 1  # a character outside EUC-KR: LMS carries it as the gateway converts
    return "SMS" if segment_info(text).segments == 1 and size <= SMS_MAX_BYTES else "LMS"


class SolapiTransport:
    """SMS/LMS through the official `solapi` SDK: paced, retried, never sent twice on a timeout."""

    name = "solapi"
    simulated = False

    def __init__(self, api_key: str, api_secret: str, *, sender_number: str | None, base_url: str | None = None,
                 settings: SendSettings | None = None, conn_id: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], datetime] = utc_now) -> None:
        from solapi import SolapiMessageService

        where = f" (Airflow connection {conn_id!r})" if conn_id else ""
        if not api_key or not api_secret:
            raise ValueError(f"SOLAPI needs an API key (login) and an API secret (password){where}")
        sender = (sender_number or "").replace("-", "").strip()
        if not sender.isdigit():
            raise ValueError(f"SOLAPI needs the sender number registered with it in advance (발신번호 사전등록){where}: "
                             "set extra sender_number, e.g. {\"sender_number\": \"0212345678\"}, to a number "
                             "registered in the SOLAPI console; carriers refuse any other")
        self.sender_number = sender
        self.settings = settings or SendSettings()
        self.conn_id = conn_id
        self._service = SolapiMessageService(api_key, api_secret)
        if base_url:
            self._service.base_url = base_url.rstrip("/")
        self.base_url = self._service.base_url
        self._limiter = IntervalLimiter(self.settings.rate_per_second, sleep=sleep)
        self._sleep, self._clock = sleep, clock

    @classmethod
    def from_connection(cls, connection: Any, *, conn_id: str, settings: SendSettings | None = None) -> SolapiTransport:
        extra = connection.extra_dejson or {}
        host = connection.host or None
        if host and "://" not in host:
            host = f"{connection.schema or 'https'}://{host}" + (f":{connection.port}" if connection.port else "")
        return cls(connection.login or "", connection.password or "", sender_number=extra.get("sender_number"),
                   base_url=host, settings=settings or SendSettings.from_env(), conn_id=conn_id)

    def __repr__(self) -> str:
        return f"SolapiTransport(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    def send(self, request: SendRequest) -> SendResult:
        from solapi.model import RequestMessage

        kind = message_type(request.body)
        attempt_started = utc_now()
        settings = self.settings
        for attempt in range(1, settings.max_attempts + 1):
            self._limiter.wait()
            attempt_started = utc_now()
            request.check_window(self._clock())  # before every attempt: waits may pass 21:00
            message = RequestMessage(to=national_number(request.to), from_=self.sender_number, text=request.body,
                                     type=kind, auto_type_detect=False)
            try:
                response = self._service.send(message)
            except Exception as error:  # noqa: BLE001 - the SDK raises bare Exceptions for API errors
                failure = self._failure(error, f"SMS {request.idempotency_key}", attempt)
            else:
                item = (response.message_list or [None])[0]
                message_id = item.message_id if item else None
                log.info("SMS %s to %s accepted by SOLAPI as %s (%s)", request.idempotency_key,
                         mask_number(request.to), message_id, kind)
                return SendResult(message_id, "accepted", attempts=attempt)
            if failure.ambiguous:
                self._sleep(settings.recheck_delay_seconds)
                try:
                    found = [m for m in self.sent_to_since(request.to, attempt_started) if m.body == request.body]
                except (TransientSendError, httpx.HTTPError) as check_error:
                    raise TransientSendError(f"{failure}; could not check whether SOLAPI has it "
                                             f"({type(check_error).__name__}): check before sending it again",
                                             ambiguous=True, attempts=attempt) from None
                if found:
                    return SendResult(found[0].provider_message_id, found[0].status, attempts=attempt, recovered=True)
                raise TransientSendError(f"{failure}; SOLAPI does not list it yet: left for the outbox to check "
                                         "again later (never re-sent in the same attempt)", ambiguous=True,
                                         attempts=attempt)
            if attempt == settings.max_attempts:
                raise failure
            wait = min(settings.backoff_seconds * 2 ** (attempt - 1), settings.backoff_max_seconds)
            log.warning("%s; attempt %d of %d, retrying in %.2f s", failure, attempt, settings.max_attempts, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(self, error: Exception, what: str, attempt: int) -> TransientSendError:
        """The retryable failure `error` stands for; raises the permanent ones."""
        from solapi.error.MessageNotReceiveError import MessageNotReceivedError

        if isinstance(error, MessageNotReceivedError):
            failed = error.failed_messages[0]
            code, text = str(failed.status_code), scrub(failed.status_message)
            message = f"{what}: SOLAPI refused it ({code}: {text})"
            if code in _CONFIGURATION_CODES:
                raise SenderConfigurationError(message, reason="configuration", attempts=attempt) from None
            raise PermanentSendError(message, reason="rejected", attempts=attempt) from None
        if isinstance(error, httpx.HTTPError):
            never_reached = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
            return TransientSendError(f"{what}: no answer from SOLAPI ({type(error).__name__})", attempts=attempt,
                                      ambiguous=not never_reached)
        code = str(error.args[0]) if error.args else type(error).__name__
        text = scrub(str(error.args[1]))[:300] if len(error.args) > 1 else ""
        if code in _TRANSIENT_CODES:
            return TransientSendError(f"{what}: SOLAPI answered {code}: {text}", attempts=attempt)
        if code in _CONFIGURATION_CODES:
            raise SenderConfigurationError(f"{what}: SOLAPI refused the account ({code}: {text})",
                                           reason="configuration", attempts=attempt) from None
        raise PermanentSendError(f"{what}: SOLAPI refused it ({code}: {text})", reason="rejected",
                                 attempts=attempt) from None

    def status(self, provider_message_id: str) -> str:
        return self.delivery(provider_message_id).status

    def delivery(self, provider_message_id: str) -> DeliveryStatus:
        """The message's status: `delivered` (4000), `sent` while the carrier has it, else `undelivered`
        with SOLAPI's status code; `LookupError` when SOLAPI has no such message."""
        from solapi.model.request.messages.get_messages import GetMessagesRequest

        try:
            found = self._service.get_messages(GetMessagesRequest(message_id=provider_message_id)).message_list
        except Exception as error:  # noqa: BLE001
            raise TransientSendError(f"status of {provider_message_id}: {type(error).__name__}") from None
        if provider_message_id not in found:
            raise LookupError(f"SOLAPI has no message {provider_message_id!r}")
        code = found[provider_message_id].status_code or ""
        if code == DELIVERED_CODE:
            return DeliveryStatus("delivered", None, None)
        if code in PENDING_CODES:
            return DeliveryStatus("sent", None, None)
        return DeliveryStatus("undelivered", int(code) if code.isdigit() else None, f"SOLAPI status {code}")

    def sent_to_since(self, to: str, since: datetime) -> list[SentMessage]:
        """Messages to `to` created since `since` (less `CLOCK_SKEW`), newest first (a few pages at most)."""
        from solapi.model.request.messages.get_messages import GetMessagesRequest

        since = aware_utc(since) - CLOCK_SKEW
        found: list[SentMessage] = []
        start_key = None
        for _ in range(5):
            query = GetMessagesRequest(to=national_number(to), start_date=since.isoformat(), date_type="CREATED",
                                       limit=50, start_key=start_key)
            try:
                page = self._service.get_messages(query)
            except Exception as error:  # noqa: BLE001
                raise TransientSendError(f"messages sent to {mask_number(to)}: {type(error).__name__}") from None
            for message_id, message in page.message_list.items():
                created = message.date_created
                if created is not None and created.tzinfo is not None and created >= since:
                    found.append(SentMessage(message_id, to, message.text or "", message.status_code or "",
                                             created))
            start_key = page.next_key
            if not start_key:
                break
        return sorted(found, key=lambda message: message.created_at, reverse=True)


__all__ = ["SolapiTransport", "message_type", "national_number"]
