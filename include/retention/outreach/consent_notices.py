"""The notices the Network Act makes the sender owe every recipient, found and queued once.

- **Re-confirmation every two years** (art. 50(8)): every customer whose consent to
  advertising stands (not only the seniors of a campaign: the duty is owed to whoever consented)
  and whose two-year anniversary is `lead_days` or fewer ahead gets one notice per anniversary
  (`sql/outreach/consent_notices/reconfirmations_due.sql`; the date arithmetic is
  `consent_standing`'s).
- **The result of a request within 14 days** (art. 50(7)): every opt-out (the 080 line, a shop
  or the app through the contacts file's flag; an unsubscribe the SMS provider reported) and
  every new consent or withdrawal gets one notice of the result (`requests.sql`).

Each notice is a row of `outreach.consent_notices` (its due date and the day it becomes an ops
alert) and a row of the outbox `outreach.messages` with campaign `notice:<kind>:<date>`:
both insert-only on (campaign, customer), so re-runs, retries and backfills queue nothing
twice. The text is informational (`notice_text`): never `(광고)`, never an offer, and it is
queued with `night_consent` false, so the outbox never sends it between 21:00 and 08:00.
Sending is `notice_sending`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retention.outreach.consent_standing import DEFAULT_PERIOD_DAYS
from retention.outreach.notice_text import RECONFIRMATION, render_notice
from retention.outreach.quiet_hours import SEOUL, earliest_send_time

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

NOTICE_PREFIX = "notice:"
RESULT_WINDOW_DAYS = 14
"""Enforcement Decree art. 62-2: the result of a request is notified within 14 days."""
RESULT_ALERT_DAY = 10
RECONFIRMATION_ALERT_DAYS_BEFORE = 4


@dataclass(frozen=True)
class NoticeSettings:
    sender: str
    opt_out_number: str
    lead_days: int = 30
    """A re-confirmation is queued this many days before the anniversary; env RETENTION_NOTICE_LEAD_DAYS."""
    period_days: int = DEFAULT_PERIOD_DAYS
    """The re-confirmation period (RETENTION_OUTREACH_CONSENT_VALID_DAYS, the audience's own)."""
    lookback_days: int = 28
    """Requests recorded this far back are looked for (a DAG that was down catches up);
    env RETENTION_NOTICE_LOOKBACK_DAYS."""
    max_segments: int = 3
    """Most SMS parts a notice may take (RETENTION_SMS_MAX_SEGMENTS)."""

    def __post_init__(self) -> None:
        if not 0 <= self.lead_days < self.period_days:
            raise ValueError(f"RETENTION_NOTICE_LEAD_DAYS={self.lead_days}: give 0 to less than the "
                             f"re-confirmation period ({self.period_days} days)")
        if self.lookback_days < RESULT_WINDOW_DAYS:
            raise ValueError(f"RETENTION_NOTICE_LOOKBACK_DAYS={self.lookback_days}: give at least "
                             f"{RESULT_WINDOW_DAYS} (the legal window), or requests could be missed")

    @classmethod
    def from_env(cls) -> NoticeSettings:
        from retention.outreach.message import MessageSettings

        message = MessageSettings.from_env()  # the sender, the 080 number (required) and the segment limit
        return cls(sender=message.sender, opt_out_number=message.opt_out_number,
                   lead_days=int(os.environ.get("RETENTION_NOTICE_LEAD_DAYS", "30")),
                   period_days=int(os.environ.get("RETENTION_OUTREACH_CONSENT_VALID_DAYS", str(DEFAULT_PERIOD_DAYS))),
                   lookback_days=int(os.environ.get("RETENTION_NOTICE_LOOKBACK_DAYS", "28")),
                   max_segments=message.max_segments)


def campaign_id(kind: str, day: dt.date) -> str:
    return f"{NOTICE_PREFIX}{kind}:{day.isoformat()}"


def queue_notices(warehouse: Warehouse, *, now: dt.datetime, run_id: str, settings: NoticeSettings) -> dict:
    """Find every notice owed as of `now`'s day (Seoul) and queue it once; returns the counts."""
    as_of = now.astimezone(SEOUL).date()
    # The contacts weeks from the partition list (a MAX subquery would read every partition).
    weeks = [week for week in warehouse.partition_dates(warehouse.table_id("core", "contacts")) if week <= as_of]
    contacts_week = weeks[-1] if weeks else dt.date(1, 1, 1)
    first = as_of - dt.timedelta(days=settings.lookback_days)
    recent = [index for index, week in enumerate(weeks) if week > first]
    from_week = weeks[max(recent[0] - 1, 0)] if recent else contacts_week
    reconfirmations = warehouse.rows(
        warehouse.sql_file("outreach/consent_notices/reconfirmations_due.sql"),
        {"as_of": as_of, "lead_days": settings.lead_days, "period_days": settings.period_days,
         "contacts_week": contacts_week},
        source="sql/outreach/consent_notices/reconfirmations_due.sql")
    requests = warehouse.rows(
        warehouse.sql_file("outreach/consent_notices/requests.sql"),
        {"as_of": as_of, "lookback_days": settings.lookback_days, "from_week": from_week},
        source="sql/outreach/consent_notices/requests.sql")
    notices = [_reconfirmation(row, as_of, now, run_id) for row in reconfirmations]
    notices += [_result(row, now, run_id) for row in requests]
    messages = [_outbox_row(notice, key, now, run_id, settings) for notice, key in notices]
    # The outbox first: a crash between the two inserts is repaired by the next run (the ledger
    # row is missing, so the notice is found again, and its outbox row is already there).
    inserted = warehouse.insert_missing(warehouse.table_id("outreach", "messages"), messages,
                                        ("campaign_id", "customer_id"))
    warehouse.insert_missing(warehouse.table_id("outreach", "consent_notices"), [n for n, _ in notices],
                             ("campaign_id", "customer_id"))
    summary = {"as_of": as_of.isoformat(), "queued": inserted,
               **dict(sorted(Counter(notice["notice_kind"] for notice, _ in notices).items()))}
    late = [n for n, _ in notices if n["due_by"] < as_of]
    if late:
        summary["found_after_due"] = len(late)
        log.warning("%d notice(s) found after their due day (the DAG did not run, or the contacts came late): "
                    "queued now; see marts.consent_notices", len(late))
    log.info("consent notices as of %s: %s", as_of, summary)
    return summary


def _reconfirmation(row: dict, as_of: dt.date, now: dt.datetime, run_id: str) -> tuple[dict, str]:
    anniversary = row["anniversary"]
    return {
        "campaign_id": campaign_id(RECONFIRMATION, anniversary), "customer_id": row["customer_id"],
        "notice_kind": RECONFIRMATION, "request_source": None, "consent_date": row["consent_date"],
        "anniversary": anniversary, "requested_on": None, "processed_on": as_of, "due_by": anniversary,
        "alert_from": anniversary - dt.timedelta(days=RECONFIRMATION_ALERT_DAYS_BEFORE),
        "detected_at": now, "detected_by_run": run_id,
    }, row["phone_key"]


def _result(row: dict, now: dt.datetime, run_id: str) -> tuple[dict, str]:
    # The window is counted from the request when its day is known (stricter than from processing).
    start = min(row["requested_on"], row["processed_on"])
    return {
        "campaign_id": row["campaign_id"], "customer_id": row["customer_id"], "notice_kind": row["notice_kind"],
        "request_source": row["request_source"], "consent_date": row["consent_date"], "anniversary": None,
        "requested_on": row["requested_on"], "processed_on": row["processed_on"],
        "due_by": start + dt.timedelta(days=RESULT_WINDOW_DAYS),
        "alert_from": start + dt.timedelta(days=RESULT_ALERT_DAY),
        "detected_at": now, "detected_by_run": run_id,
    }, row["phone_key"]


def _outbox_row(notice: dict, phone_key: str, now: dt.datetime, run_id: str, settings: NoticeSettings) -> dict:
    text = render_notice(notice["notice_kind"], sender=settings.sender, opt_out_number=settings.opt_out_number,
                         max_segments=settings.max_segments, consent_date=notice["consent_date"],
                         requested_on=notice["requested_on"], processed_on=notice["processed_on"])
    return {
        "campaign_id": notice["campaign_id"], "customer_id": notice["customer_id"],
        "snapshot_date": notice["processed_on"], "state": "queued", "reason": None, "phone_key": phone_key,
        "night_consent": False, "not_before": earliest_send_time(now, night_consent=False),
        "transport": None, "simulated": None, "provider_message_id": None, "attempt_started_at": None,
        "attempts": 0, "error_code": None, "error_message": None, "queued_at": now, "queued_by_run": run_id,
        "sent_at": None, "final_at": None, "updated_at": now,
        "body": text.text, "encoding": text.encoding, "segments": text.segments, "dropped_parts": None,
        # A notice carries no offer: the place columns of the outbox stay empty.
        "venue_place_id": "", "venue_distance_km": 0.0, "venue_geocode_precision": "",
        "plaza_place_id": "", "plaza_distance_km": 0.0, "plaza_geocode_precision": "",
    }
