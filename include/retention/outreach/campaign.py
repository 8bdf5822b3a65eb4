"""One week of the senior campaign: who is in it (the audience, with the holdout), and the
messages queued for them in the outbox.

`decide_audience` writes `outreach.campaign_audience` for a scored week: every newly at-risk
senior, excluded with a reason or put in a group (`audience.py`). A re-run of the week
replaces its rows with the same decisions: the rules only look at earlier weeks, and the
holdout is a hash.

`queue_messages` renders the offer for each customer of the week's message group (nearest
venue and plaza to the home dong, `offer.py`; the template, `message.py`) and inserts it into
`outreach.messages`, insert-only on (campaign, customer): a customer already there, queued by
any run of any week, is never queued again. Sending is `outbox.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retention.outreach.audience import AudienceSettings, Candidate, exclusion_reason, group
from retention.outreach.message import MessageSettings, MessageTooLong, Offer, render
from retention.outreach.offer import Place, nearest_places
from retention.outreach.quiet_hours import SEOUL, earliest_send_time

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

TABLES = ("campaign_audience", "messages", "opt_outs", "consent_notices")
MESSAGE_KEY = ("campaign_id", "customer_id")


@dataclass(frozen=True)
class QueueSettings:
    max_week_age_days: int
    """A week whose scores are older than this (from its Monday + 7 days) is not messaged: its
    audience is still recorded, but a backfill never sends last month's offer today.
    env RETENTION_OUTREACH_MAX_WEEK_AGE_DAYS, default 7."""

    @classmethod
    def from_env(cls) -> QueueSettings:
        return cls(max_week_age_days=int(os.environ.get("RETENTION_OUTREACH_MAX_WEEK_AGE_DAYS", "7")))


def ensure_tables(warehouse: Warehouse, *, phone_numbers: bool = True) -> None:
    """The outreach tables, and contact.phone_numbers that the outreach reads (not when the
    pipeline's connection asks, refresh_marts: it may not touch contact); then bring older
    tables up to this release (the migrations)."""
    from retention.ingest.contacts import ensure_phone_numbers
    from retention.migrations import migrate

    warehouse.ensure_datasets(["outreach"])
    if phone_numbers:
        ensure_phone_numbers(warehouse)  # read for the numbers: the outbox keeps their keys
    for table in TABLES:
        warehouse.run_file(f"outreach/{table}/create.sql")
    migrate(warehouse, applied_by="senior_outreach")


def contacts_week(warehouse: Warehouse, on_or_before: dt.date | None = None) -> dt.date:
    """The contacts as published for a week: the latest core.contacts partition on or before it
    (a date no partition has, when none is, so that no contact matches)."""
    week = warehouse.latest_partition(warehouse.table_id("core", "contacts"),
                                      on_or_before=on_or_before)
    return week or dt.date(1, 1, 1)


def decide_audience(warehouse: Warehouse, week: dt.date, settings: AudienceSettings, *,
                    now: dt.datetime, queue_settings: QueueSettings) -> dict:
    """Decide the week's audience for everyone not decided yet (insert-only: a decision, once
    recorded, is never changed by a re-run or a backfill) and return the week's counts. A week
    too old to message excludes everyone as `week_too_old`: no group, so nobody is locked out
    of the campaign by a backfill that sends nothing."""
    table = warehouse.table_id("outreach", "campaign_audience")
    match = {"campaign_id": settings.campaign_id, "snapshot_date": week}
    rows = warehouse.rows(warehouse.sql_file("outreach/campaign_audience/candidates.sql"),
                          {"snapshot_date": week, "campaign_id": settings.campaign_id,
                           "contacts_week": contacts_week(warehouse, week)},
                          source="sql/outreach/campaign_audience/candidates.sql")
    too_old = week_too_old(week, now, queue_settings)
    decisions = []
    for row in rows:
        candidate = Candidate(
            customer_id=row["customer_id"], phone_e164=row["phone_e164"], sms_consent=row["sms_consent"],
            sms_consent_date=row["sms_consent_date"], opted_out=row["opted_out"],
            home_dong_code=row["home_dong_code"], in_campaign=row["in_campaign"],
            last_messaged_at=row["last_sent_at"], reconfirmed_anniversary=row["reconfirmed_anniversary"],
        )
        reason = "week_too_old" if too_old else exclusion_reason(candidate, week, settings)
        decisions.append({
            **match, "customer_id": candidate.customer_id, "churn_probability": row["churn_probability"],
            "excluded_reason": reason,
            "campaign_group": None if reason else group(settings.campaign_id, candidate.customer_id,
                                                        settings.holdout_share),
            "decided_at": now,
        })
    added = warehouse.insert_missing(table, decisions, ("campaign_id", "snapshot_date", "customer_id"))
    recorded = warehouse.rows(
        f"SELECT campaign_group, excluded_reason FROM `{table}` WHERE campaign_id = @campaign_id "
        "AND snapshot_date = @snapshot_date", match, source="outreach.campaign_audience")
    counts = Counter(row["campaign_group"] or f"excluded: {row['excluded_reason']}" for row in recorded)
    summary = {"snapshot_date": week.isoformat(), "campaign_id": settings.campaign_id,
               "newly_at_risk_seniors": len(recorded), "decided_now": added, **dict(sorted(counts.items()))}
    if too_old:
        summary["too_old"] = True
        already_too_old = counts["excluded: week_too_old"] - added
        log.warning(_too_old_message(week, queue_settings, added, already_too_old,
                                     len(recorded) - added - already_too_old))
    log.info("audience of %s for %s: %s", week, settings.campaign_id, summary)
    return summary


def _too_old_message(week: dt.date, settings: QueueSettings, decided_now: int, already_too_old: int,
                     decided_earlier: int) -> str:
    """What a run of a week too old to message did, and only that: the decisions it recorded
    now are `week_too_old`; those recorded by earlier runs were kept as they were."""
    parts = [f"week {week} is more than RETENTION_OUTREACH_MAX_WEEK_AGE_DAYS={settings.max_week_age_days} days old: "
             "nothing is queued for it now"]
    if decided_now:
        parts.append(f"{decided_now} senior(s) decided now, recorded as week_too_old (in no group)")
    if already_too_old:
        parts.append(f"{already_too_old} already recorded as week_too_old by an earlier run")
    if decided_earlier:
        parts.append(f"{decided_earlier} decided by an earlier run, in time, kept as they were (their groups and "
                     "exclusions stand)")
    if not (decided_now or already_too_old or decided_earlier):
        parts.append("no senior of the week is newly at risk")
    return "; ".join(parts)


def week_too_old(week: dt.date, now: dt.datetime, settings: QueueSettings) -> bool:
    week_end = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(0), SEOUL)
    return now - week_end > dt.timedelta(days=settings.max_week_age_days)


def queue_messages(warehouse: Warehouse, week: dt.date, *, campaign_id: str, now: dt.datetime, run_id: str,
                   message_settings: MessageSettings, queue_settings: QueueSettings,
                   places: list[Place], dong_centroid: Callable[[str], tuple[float, float]]) -> dict:
    """Queue the week's message group (those not in the outbox yet); returns what was queued."""
    summary = {"snapshot_date": week.isoformat(), "campaign_id": campaign_id, "queued": 0, "skipped": {},
               "waiting_for_send_window": 0}
    if week_too_old(week, now, queue_settings):
        log.warning("week %s is more than RETENTION_OUTREACH_MAX_WEEK_AGE_DAYS=%s days old: nothing is queued for "
                    "it now (a late run never sends an old offer)", week, queue_settings.max_week_age_days)
        return {**summary, "too_old": True}
    recipients = warehouse.rows(warehouse.sql_file("outreach/messages/to_queue.sql"),
                                {"snapshot_date": week, "campaign_id": campaign_id,
                                 "contacts_week": contacts_week(warehouse, week)},
                                source="sql/outreach/messages/to_queue.sql")
    rows = [_outbox_row(recipient, week, campaign_id, now, run_id, message_settings, places, dong_centroid)
            for recipient in recipients]
    inserted = warehouse.insert_missing(warehouse.table_id("outreach", "messages"), rows, MESSAGE_KEY)
    summary["queued"] = sum(row["state"] == "queued" for row in rows)
    summary["skipped"] = dict(Counter(row["reason"] for row in rows if row["state"] == "skipped"))
    summary["waiting_for_send_window"] = sum(row["state"] == "queued" and row["not_before"] > now for row in rows)
    summary["inserted"] = inserted
    log.info("queued for %s: %s", week, summary)
    return summary


def _outbox_row(recipient: dict, week: dt.date, campaign_id: str, now: dt.datetime, run_id: str,
                settings: MessageSettings, places: list[Place],
                dong_centroid: Callable[[str], tuple[float, float]]) -> dict:
    try:
        home = dong_centroid(recipient["home_dong_code"])
    except KeyError:
        home = None
    row = {
        "campaign_id": campaign_id, "customer_id": recipient["customer_id"], "snapshot_date": week,
        "state": "queued", "reason": None, "phone_key": recipient["phone_key"],
        "night_consent": bool(recipient["night_consent"]),
        "not_before": earliest_send_time(now, night_consent=bool(recipient["night_consent"])),
        "transport": None, "simulated": None, "provider_message_id": None, "attempt_started_at": None,
        "attempts": 0, "error_code": None, "error_message": None, "queued_at": now, "queued_by_run": run_id,
        "sent_at": None, "final_at": None, "updated_at": now,
        "body": "", "encoding": "", "segments": 0, "dropped_parts": None,
        "venue_place_id": "", "venue_distance_km": 0.0, "venue_geocode_precision": "",
        "plaza_place_id": "", "plaza_distance_km": 0.0, "plaza_geocode_precision": "",
    }
    if home is None:
        # The contact's dong code is not in the bundled gazetteer: nowhere to measure from.
        return {**row, "state": "skipped", "reason": "unknown_home_dong", "final_at": now}
    nearest = nearest_places(home, places)
    row.update({
        "venue_place_id": nearest.venue.place.place_id, "venue_distance_km": round(nearest.venue.distance_km, 3),
        "venue_geocode_precision": nearest.venue.place.geocode_precision,
        "plaza_place_id": nearest.plaza.place.place_id, "plaza_distance_km": round(nearest.plaza.distance_km, 3),
        "plaza_geocode_precision": nearest.plaza.place.geocode_precision,
    })
    offer = Offer(
        venue_name=nearest.venue.place.name, venue_address=nearest.venue.place.address,
        venue_distance_km=nearest.venue.distance_km, plaza_name=nearest.plaza.place.name,
        plaza_address=nearest.plaza.place.address, plaza_distance_km=nearest.plaza.distance_km,
        plaza_type=nearest.plaza.place.place_type,
    )
    try:
        message = render(offer, settings)
    except MessageTooLong as too_long:
        # This customer's places have names too long for the limit even shortened: kept, not sent.
        log.warning("SMS for %s skipped: %s", recipient["customer_id"], too_long)
        return {**row, "state": "skipped", "reason": "message_too_long", "body": too_long.text,
                "final_at": now}
    return {**row, "body": message.text, "encoding": message.encoding, "segments": message.segments,
            "dropped_parts": ",".join(message.dropped) or None}


def published_places(warehouse: Warehouse, week: dt.date) -> list[Place]:
    """The places published in the week's month (`core.places`), as the offer needs them."""
    from retention.places.refresh import places_as_of

    frame = places_as_of(warehouse, week.replace(day=1))
    return [
        Place(place_id=row.place_id, place_type=row.place_type, name=row.name, address=row.address,
              latitude=float(row.latitude), longitude=float(row.longitude), geocode_precision=row.geocode_precision)
        for row in frame.itertuples(index=False)
    ]
