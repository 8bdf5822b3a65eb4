"""Why a message was not sent, and what the outbox should do about it (see the package docstring).

Every error's `str()` is safe to log: numbers masked, no credentials. Each has a `.result`
(a failed `SendResult`) for callers that record every outcome alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retention.outreach.transports import SendResult


class SendError(Exception):
    """A message was not sent; `str(error)` is safe to log (numbers masked, no credentials)."""

    permanent = False

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 retry_after_seconds: float | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retry_after_seconds = retry_after_seconds
        self.attempts = attempts

    @property
    def result(self) -> SendResult:
        return SendResult(None, "failed", self.code, self.message, self.permanent, self.retry_after_seconds,
                          attempts=self.attempts)


class PermanentSendError(SendError):
    """Twilio refused this message for a reason a retry cannot fix; `reason` says which kind."""

    permanent = True

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.reason = reason

    @property
    def unsubscribed(self) -> bool:
        """The person has opted out (texted STOP): mark the contact opted out, never send again."""
        return self.reason == "unsubscribed"

    @property
    def affects_all_recipients(self) -> bool:
        """Our account or sender is at fault, not this contact: every other message will fail too."""
        return self.reason == "configuration"


class RecipientUnsubscribed(PermanentSendError):
    """Twilio 21610: the recipient replied STOP to our sender."""


class SenderConfigurationError(PermanentSendError):
    """Credentials, sender or account permissions are wrong: fix the Airflow connection or account."""


class SendWindowClosed(SendError):
    """Nothing was sent: the message's send window (`SendRequest.not_after`) had closed."""


class TransientSendError(SendError):
    """Twilio could not take the message now (rate limit, outage, network); a later retry may pass."""

    def __init__(self, message: str, *, ambiguous: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.ambiguous = ambiguous
        """The message may have reached Twilio: check `sent_to_since` before sending it again."""


# Twilio error codes a retry cannot fix, by what the outbox should do about them. Source: Twilio's
# error dictionary, https://www.twilio.com/docs/api/errors/<code> (21408, 30005 and 30006 only as
# quoted by third-party tables). Create-time codes (HTTP 4xx) come back from `send`; delivery
# codes (30xxx) come later, with an `undelivered`/`failed` status (see `delivery`). Twilio refines
# codes over time (its July 2024 changelog split landlines and other cases out of 21211/21614),
# and advises against logic keyed on them: unknown codes are `rejected`, a failed row with the
# code kept.
ERROR_REASONS: Mapping[int, str] = {
    21610: "unsubscribed",  # attempt to send to unsubscribed recipient (replied STOP): mark opted out
    21211: "invalid_number",  # invalid 'To' phone number (not E.164, or cannot exist)
    30005: "invalid_number",  # unknown destination handset (delivery)
    21614: "cannot_receive_sms",  # 'To' number is not a valid mobile number (landline or invalid)
    21635: "cannot_receive_sms",  # 'To' number cannot be a landline
    30006: "cannot_receive_sms",  # landline or unreachable carrier (delivery)
    21612: "unroutable",  # this To/From combination cannot be sent (sender ID rules, no carrier route)
    30007: "blocked",  # message filtered by Twilio or the carrier (delivery)
    20003: "configuration",  # permission denied: wrong Account SID / auth token, account suspended
    20404: "configuration",  # not found: wrong account SID or path (a create never 404s otherwise)
    21408: "configuration",  # permission to send an SMS has not been enabled for the region
    21606: "configuration",  # 'From' is not a valid, message-capable number of this account
    21608: "configuration",  # trial account or no compliance profile: 'To' not verified
    30002: "configuration",  # account suspended (delivery)
}


def classify_error_code(code: int | None) -> str:
    """What a Twilio error code means for the outbox: a key of `ERROR_REASONS` values, or `rejected`."""
    return ERROR_REASONS.get(code or 0, "rejected")


def permanent_error(message: str, *, code: int | None, **details: Any) -> PermanentSendError:
    """The `PermanentSendError` (or the subclass the outbox acts on) for Twilio error `code`."""
    reason = classify_error_code(code)
    kind = {"unsubscribed": RecipientUnsubscribed, "configuration": SenderConfigurationError}.get(
        reason, PermanentSendError)
    return kind(message, reason=reason, code=code, **details)
