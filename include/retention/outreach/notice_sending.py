"""Sending the consent notices through the outbox, and telling operators about any that is late.

Every notice campaign (`notice:<kind>:<date>`) with something queued or in sending goes through
`outbox.send_pending` like the senior offer: claims and leases, reconciliation with the
provider before any retry, quiet hours checked before each attempt, at most once. Only the
withholding rules differ (`sql/outreach/consent_notices/pending.sql`: a notice is owed whatever
the consent, so no consent check). `open_notices` lists what is still owed; those past their
`alert_from` day (day 10 of a request's 14, four days before an anniversary) become one
`consent_notice_overdue` warning in `ops.alerts`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from retention.outreach.consent_notices import NOTICE_PREFIX
from retention.outreach.outbox import OutboxSettings, SendingStopped, check_delivery, send_pending
from retention.outreach.quiet_hours import SEOUL

if TYPE_CHECKING:
    from retention.outreach.transports import Transport
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

PENDING_SQL = "outreach/consent_notices/pending.sql"


def _campaigns(warehouse: Warehouse, states: tuple[str, ...]) -> list[str]:
    rows = warehouse.rows(
        "SELECT DISTINCT campaign_id FROM `{{ outreach }}.messages` WHERE STARTS_WITH(campaign_id, @prefix) "
        "AND state IN UNNEST(@states) ORDER BY campaign_id", {"prefix": NOTICE_PREFIX, "states": list(states)},
        source="outreach.messages (notice campaigns)")
    return [row["campaign_id"] for row in rows]


def send_notices(warehouse: Warehouse, transport: Transport, *, clock: Callable[[], dt.datetime],
                 settings: OutboxSettings) -> dict:
    """Send what every notice campaign has due; stops (like the offer) on a provider outage or a
    sender misconfiguration, with everything sent so far recorded."""
    totals: Counter[str] = Counter()
    campaigns = _campaigns(warehouse, ("queued", "sending"))
    for campaign in campaigns:
        summary = send_pending(warehouse, transport, campaign, clock=clock, settings=settings,
                               pending_sql=PENDING_SQL, advertising=False)
        totals.update({key: value for key, value in summary.items() if isinstance(value, int)})
    result = {"transport": transport.name, "campaigns": len(campaigns), **dict(sorted(totals.items()))}
    log.info("consent notices sent: %s", result)
    return result


def check_notice_delivery(warehouse: Warehouse, transport: Transport, *, clock: Callable[[], dt.datetime]) -> dict:
    totals: Counter[str] = Counter()
    for campaign in _campaigns(warehouse, ("sent",)):
        summary = check_delivery(warehouse, transport, campaign, clock=clock)
        totals.update({key: value for key, value in summary.items() if isinstance(value, int)})
    return dict(sorted(totals.items()))


def open_notices(warehouse: Warehouse, as_of: dt.date) -> list[dict]:
    """Notices owed and not answered as of `as_of` (see `sql/outreach/consent_notices/open.sql`)."""
    return warehouse.rows(warehouse.sql_file("outreach/consent_notices/open.sql"), {"as_of": as_of},
                          source="sql/outreach/consent_notices/open.sql")


def overdue_warning(warehouse: Warehouse, now: dt.datetime) -> str | None:
    """The operators' message for notices past their alert day and still unanswered, or None."""
    as_of = now.astimezone(SEOUL).date()
    late = [row for row in open_notices(warehouse, as_of) if row["alert"]]
    if not late:
        return None
    kinds = Counter(row["notice_kind"] for row in late)
    states = Counter(row["reason"] or row["state"] for row in late)
    first = min(row["due_by"] for row in late)
    past_due = sum(row["days_left"] < 0 for row in late)
    return (f"{len(late)} consent notice(s) owed under the Network Act art. 50(7)/(8) are still unanswered at their "
            f"alert day ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; where they stand: "
            f"{', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); the first is due by {first}"
            f"{f', {past_due} already past due' if past_due else ''}. See marts.consent_notices: a queued one waits "
            "for the send window or the provider (check send_notices' log); a skipped one (number_changed, "
            "no_contact_record, or unsubscribed: the provider blocks SMS to a number that texted STOP) needs the "
            "customer reached another way and recorded")


__all__ = ["SendingStopped", "check_notice_delivery", "open_notices", "overdue_warning", "send_notices"]
