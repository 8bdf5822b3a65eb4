"""How an outreach SMS leaves the platform: Twilio or SOLAPI when an account is configured, else a local sink.

The outbox calls `transport.send(request)` once per row it has moved to `sending`:

- a `SendResult` means Twilio (or the sink) has the message: store its id and status;
- `RecipientUnsubscribed` (Twilio 21610, the person texted STOP): mark the contact opted out;
- `SenderConfigurationError` (bad credentials, sender, region): stop the batch, nothing will pass;
- any other `PermanentSendError` (invalid number, landline, filtered...): mark the row failed;
- `TransientSendError`: Twilio could not take it now (429, 5xx, network); retry the row later,
  after `retry_after_seconds` when given. When `ambiguous` is set the message may have
  reached Twilio: keep the row in `sending` and reconcile it with `sent_to_since` before any
  new attempt, exactly as after a crash.

Modules: this one holds what every transport shares; `errors` the exceptions above and what
Twilio's error codes mean; `local_sink`, `twilio` and `solapi` (a Korean gateway) the transports (`twilio_http` is the
Twilio client's HTTP layer, `pacing` its rate, timeouts and retries). Phone numbers are
personal data: logs, errors and reprs show `mask_number(...)`, Twilio's texts pass through `scrub`.

Settings (environment, read when a transport is built): `RETENTION_TWILIO_CONN_ID` (see
`transport_from_env`), `RETENTION_SMS_SINK_PATH` (see `local_sink`), and `pacing.SendSettings`:
`RETENTION_SMS_RATE_PER_SECOND` (1), `RETENTION_SMS_MAX_ATTEMPTS` (4),
`RETENTION_SMS_TIMEOUT_SECONDS` (10), `RETENTION_SMS_BACKOFF_SECONDS` (1, doubling),
`RETENTION_SMS_BACKOFF_MAX_SECONDS` (60), `RETENTION_SMS_RECHECK_DELAY_SECONDS` (2).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from retention.outreach.transports.pacing import SendSettings

log = logging.getLogger(__name__)

TWILIO_CONN_ENV = "RETENTION_TWILIO_CONN_ID"
DEFAULT_TWILIO_CONN_ID = "twilio_default"
SOLAPI_CONN_ENV = "RETENTION_SOLAPI_CONN_ID"
DEFAULT_SOLAPI_CONN_ID = "solapi_default"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


# --- Personal data in text ----------------------------------------------------------------


def mask_number(number: str) -> str:
    """`+821001234567` -> `+82100****567`: enough to tell numbers apart in a log, not to dial."""
    head = 6 if len(number) >= 12 else 3
    if len(number) <= head + 3:
        return "*" * len(number)
    return number[:head] + "*" * (len(number) - head - 3) + number[-3:]


_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\+?\d{8,15}(?![0-9A-Za-z])")
_SID_IN_TEXT = re.compile(r"\b(AC|MG|SK)[0-9a-fA-F]{32}\b")


def mask_sids(text: str) -> str:
    """Mask account, messaging service and API key SIDs (`AC...` -> `AC********`) in text."""
    return _SID_IN_TEXT.sub(lambda match: f"{match.group(1)}********", text)


def scrub(text: str) -> str:
    """Mask phone numbers and account/service SIDs in text from Twilio (its error messages quote them)."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask_number(match.group()), mask_sids(text))


# --- Requests and results -----------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    """One SMS to send: to whom, what, and the key that makes a second send of it a no-op."""

    to: str = field(repr=False)
    """E.164 number, for example `+821012345678`."""
    body: str = field(repr=False)
    idempotency_key: str
    """One per message the outbox may send: `campaign:customer_id`."""
    not_after: datetime | None = None
    """The send window closes then (21:00 KST for someone without night-time consent): a transport
    checks it right before each attempt and raises `SendWindowClosed` once it has passed."""

    def __post_init__(self) -> None:
        if not E164.match(self.to):
            raise ValueError(f"SMS {self.idempotency_key}: {mask_number(self.to)!r} is not an E.164 number "
                             "(+ country code and digits, no spaces); fix the contact's phone")
        if not self.body:
            raise ValueError(f"SMS {self.idempotency_key}: the body is empty")

    @classmethod
    def for_campaign(cls, campaign: str, customer_id: str, to: str, body: str, *,
                     not_after: datetime | None = None) -> SendRequest:
        return cls(to=to, body=body, idempotency_key=f"{campaign}:{customer_id}", not_after=not_after)

    def check_window(self, moment: datetime) -> None:
        """Raise `SendWindowClosed` when `moment` is at or after `not_after`."""
        if self.not_after is not None and moment >= self.not_after:
            from retention.outreach.transports.errors import SendWindowClosed

            raise SendWindowClosed(f"SMS {self.idempotency_key}: the send window closed at {self.not_after:%H:%M} UTC "
                                   "before it could go; it waits for the next one")

    def __repr__(self) -> str:
        return f"SendRequest(to={mask_number(self.to)!r}, idempotency_key={self.idempotency_key!r})"


@dataclass(frozen=True)
class SendResult:
    """What became of one send."""

    provider_message_id: str | None
    """Twilio's `SM...` id (or the sink's `local-...`); None when nothing was sent."""
    status: str
    """Twilio's message status (`accepted`, `queued`, ...), or `failed` when nothing was sent."""
    error_code: int | None = None
    error_message: str | None = None
    permanent: bool = False
    """A failure no retry can fix (only meaningful when nothing was sent)."""
    retry_after_seconds: float | None = None
    simulated: bool = False
    """True when the message only went to the local sink."""
    attempts: int = 1
    recovered: bool = False
    """True when an attempt timed out and the message was then found at Twilio (not re-sent)."""


@dataclass(frozen=True)
class DeliveryStatus:
    """Where a sent message stands now, with the carrier's error when it was not delivered.

    Delivery errors arrive with `undelivered` / `failed`: 30007 (filtered), 30005 (unknown
    handset), 30006 (landline or unreachable); `errors.classify_error_code` says what each means.
    """

    status: str
    """Twilio's current status (`queued`, `sent`, `delivered`, `undelivered`, `failed`...)."""
    error_code: int | None
    error_message: str | None
    """Twilio's description of `error_code`, scrubbed of numbers and SIDs."""


@dataclass(frozen=True)
class SentMessage:
    """A message the provider already has for a number (see `Transport.sent_to_since`)."""

    provider_message_id: str
    to: str = field(repr=False)
    body: str = field(repr=False)
    status: str
    created_at: datetime
    simulated: bool = False


@runtime_checkable
class Transport(Protocol):
    """Where outreach SMS go: Twilio, or the local sink when no account is configured."""

    name: str
    simulated: bool

    def send(self, request: SendRequest) -> SendResult:
        """Send one message, or raise `PermanentSendError` / `TransientSendError`."""
        ...

    def status(self, provider_message_id: str) -> str:
        """Twilio's current status of a sent message (`queued`, `sent`, `delivered`, `undelivered`...)."""
        ...

    def delivery(self, provider_message_id: str) -> DeliveryStatus:
        """The current status of a sent message with its delivery error code and message, if any."""
        ...

    def sent_to_since(self, to: str, since: datetime) -> list[SentMessage]:
        """Messages the provider already has for `to`, created at or after `since` (timezone-aware):
        what a crash left in `sending` may already be among them, so check before sending again."""
        ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware_utc(since: datetime) -> datetime:
    """`since` in UTC; refuses a naive time."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (naive times are ambiguous across hosts); use UTC")
    return since.astimezone(UTC)


# --- Choosing the transport ---------------------------------------------------------------

_simulation_announced = False


def transport_from_env(settings: SendSettings | None = None) -> Transport:
    """Twilio when the Airflow connection (`RETENTION_TWILIO_CONN_ID`, default `twilio_default`)
    exists, SOLAPI when `RETENTION_SOLAPI_CONN_ID` (default `solapi_default`) does, else the local
    sink (logged once per process: messages are then only simulated). Both at once is refused:
    which provider carries the messages must be said, not guessed."""
    global _simulation_announced
    from retention.connections import optional_connection

    conn_id = os.environ.get(TWILIO_CONN_ENV) or DEFAULT_TWILIO_CONN_ID
    connection = optional_connection(conn_id)
    solapi_id = os.environ.get(SOLAPI_CONN_ENV) or DEFAULT_SOLAPI_CONN_ID
    solapi = optional_connection(solapi_id)
    if solapi is not None:
        if connection is not None:
            from retention.task_errors import PermanentError

            raise PermanentError(f"both Airflow connections {conn_id!r} (Twilio) and {solapi_id!r} (SOLAPI) exist: "
                                 "delete the one whose provider should not carry the SMS, then clear the task")
        from retention.outreach.transports.solapi import SolapiTransport

        return SolapiTransport.from_connection(solapi, conn_id=solapi_id, settings=settings)
    if connection is None:
        # The transports are imported here: their modules import this one.
        from retention.outreach.transports.local_sink import LocalSink

        sink = LocalSink.from_env()
        if not _simulation_announced:
            log.warning("no Twilio connection %r: SMS are simulated, written to %s and sent to no one",
                        conn_id, sink.path)
            _simulation_announced = True
        return sink
    from retention.outreach.transports.twilio import TwilioTransport

    # Never log `connection` itself: its repr includes the auth token.
    return TwilioTransport.from_connection(connection, conn_id=conn_id, settings=settings)
