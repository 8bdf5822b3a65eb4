"""Sending what the outbox holds, at most once, and following it to the handset.

`outreach.messages` has one row per (campaign, customer); its state only moves forward:

    queued -> sending -> sent -> delivered | undelivered | failed
       \\-> skipped (reason: withheld, expired, refused by the provider for good)

**Claims and leases.** A sender claims rows before sending them: one UPDATE moves a batch from
`queued` to `sending` with a fresh `claim_id` and `attempt_started_at`, and the sender then
sends only the rows that carry its claim id. The claim is a lease of
`RETENTION_OUTREACH_SENDING_LEASE_SECONDS` (1800): no other run touches a row in `sending`
before it expires, a sender stops sending a batch well before its own lease runs out, and an
outcome is recorded only while the row still carries the claim id it was read with. So two
runs at once (an hourly run beside a backfill or a retry of a task whose worker is still
alive) never send the same message twice.

`send_pending` runs in this order:

1. **Reconcile** rows whose lease expired in `sending` (an attempt that did not finish: a
   crash between the provider's answer and the write, a timeout the provider did not answer):
   ask the provider for messages to that number since the attempt began
   (`Transport.sent_to_since`). Found: `sent`, with the provider's id. Not found: `queued`.
2. **Withhold** what may no longer go, from the latest contact, the latest week's customers
   and the week's audience: opted out or unsubscribed at the provider (`outreach.opt_outs`),
   no longer a customer (absent from the latest week of `core.customer_presence`), no contact
   record, consent withdrawn or older than the re-confirmation period, a new number, no longer
   in the message group: `skipped` with the reason (one per cause). Queued more than
   `RETENTION_OUTREACH_MESSAGE_TTL_DAYS` (7) ago: `expired`.
3. **Send** what is due (`not_before` passed) in batches (`RETENTION_OUTREACH_SEND_BATCH`, 25):
   claim, send each (the transport paces and retries), one MERGE records the outcomes. For a
   customer without night-time consent (as the latest contact says), the request carries the
   end of the send window (21:00 KST) and the transport checks it before every attempt, after
   every wait: a message that would go out at 21:00 or later goes back to `queued` with
   `not_before` = 08:00.

Outcomes: sent; a permanent refusal (invalid number, landline, unsubscribed...) is `skipped`
with the reason and never retried, an unsubscribe also goes to `outreach.opt_outs`; a
transient failure (429, 5xx, network, after the transport's retries) stops the run with its
row back in `queued` (`failed` after `RETENTION_OUTREACH_MAX_SEND_ATTEMPTS`, 3, runs); when
the provider may have the message (a timeout), the row stays in `sending` until its lease
expires and step 1 asks again; a sender misconfiguration stops at once. The outcomes of a
batch are always written before the error is raised.

Rows a run leaves in `sending` under a lease (its own unanswered attempts, or another
attempt's claim) are not in flight: the summary counts them (`waiting_for_lease`), says when
the last lease expires and which hourly run reconciles them at the latest, and the log warns
(`lease_warning`; the DAG also raises it as a `sending_unconfirmed` alert).

`check_delivery` asks the provider where every `sent` message stands and records
`delivered` / `undelivered` / `failed` with the carrier's error code.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retention.outreach.consent_standing import consent_stands
from retention.outreach.message import DEMO_OPT_OUT_NUMBER
from retention.outreach.quiet_hours import SEOUL, earliest_send_time, in_quiet_hours, next_send_run, send_window_end
from retention.outreach.transports import SendRequest, Transport, mask_number
from retention.outreach.transports.errors import (
    PermanentSendError,
    SenderConfigurationError,
    SendWindowClosed,
    TransientSendError,
)

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

DELIVERED = {"delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed",
             "canceled": "failed"}
"""Provider statuses that end a message's journey, and the outbox state each one becomes."""


@dataclass(frozen=True)
class OutboxSettings:
    batch_size: int = 25
    max_send_attempts: int = 3
    message_ttl_days: int = 7
    sending_lease_seconds: float = 1800.0
    consent_valid_days: int = 730
    """The audience's re-confirmation period, checked again when sending."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_send_attempts < 1 or self.message_ttl_days < 1:
            raise ValueError(f"outbox settings out of range: {self} (each must be at least 1)")
        if self.sending_lease_seconds <= 0:
            raise ValueError(f"RETENTION_OUTREACH_SENDING_LEASE_SECONDS must be > 0, got {self.sending_lease_seconds}")

    @classmethod
    def from_env(cls) -> OutboxSettings:
        from retention.outreach.audience import AudienceSettings

        return cls(
            batch_size=int(os.environ.get("RETENTION_OUTREACH_SEND_BATCH", "25")),
            max_send_attempts=int(os.environ.get("RETENTION_OUTREACH_MAX_SEND_ATTEMPTS", "3")),
            message_ttl_days=int(os.environ.get("RETENTION_OUTREACH_MESSAGE_TTL_DAYS", "7")),
            sending_lease_seconds=float(os.environ.get("RETENTION_OUTREACH_SENDING_LEASE_SECONDS", "1800")),
            consent_valid_days=AudienceSettings.from_env().consent_valid_days,
        )

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.sending_lease_seconds)


class SendingStopped(RuntimeError):
    """Sending stopped part-way; everything sent so far is recorded. `retry` says whether a
    later attempt can pass (provider unavailable) or a person must act first (configuration)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


# --- sending ---------------------------------------------------------------------------------


def send_pending(warehouse: Warehouse, transport: Transport, campaign_id: str, *,
                 clock: Callable[[], dt.datetime], settings: OutboxSettings,
                 pending_sql: str = "outreach/messages/pending.sql", advertising: bool = True) -> dict:
    """Reconcile, withhold, send what is due; returns counts of what happened. `pending_sql` and
    `advertising=False` serve the informational notices (`consent_notices`): their own withholding
    rules, no consent check (a notice is owed whatever the consent), quiet hours kept."""
    outcome: Counter[str] = Counter()
    from retention.outreach.campaign import contacts_week

    customers_week = warehouse.latest_partition(warehouse.table_id("core", "customers"))
    sql = warehouse.sql_file(pending_sql)
    params = {"campaign_id": campaign_id, "contacts_week": contacts_week(warehouse),
              "customers_week": customers_week or dt.date(1, 1, 1)}
    # Only the parameters the file names (the notices' pending.sql has no @customers_week).
    pending = warehouse.rows(sql, {key: value for key, value in params.items() if f"@{key}" in sql},
                             source=f"sql/{pending_sql}")
    now = clock()
    latest: dict[str, dict] = {}
    for row in pending:
        latest[row["customer_id"]] = {name: row.pop(name, None) for name in
                                      ("withheld_reason", "latest_consent_date", "latest_night_consent",
                                       "latest_reconfirmed_anniversary")}
        latest[row["customer_id"]]["advertising"] = advertising

    # Rows in sending whose lease still holds (`leased`) are left alone: nobody may touch them before it expires.
    expired_leases, leased = [], []
    for row in (row for row in pending if row["state"] == "sending"):
        expired = row["attempt_started_at"] is None or now - row["attempt_started_at"] >= settings.lease
        (expired_leases if expired else leased).append(row)
    reconciled = [_reconcile(row, transport, now, outcome) for row in expired_leases]
    _record(warehouse, reconciled)
    queued = [row for row in reconciled if row["state"] == "queued"] + [r for r in pending if r["state"] == "queued"]

    closed, due = [], []
    for row in sorted(queued, key=lambda row: (row["not_before"], row["customer_id"])):
        reason = _withheld(row, latest[row["customer_id"]], transport, now, settings)
        if reason:
            closed.append(_closed(row, "skipped", reason, now))
            outcome[f"skipped: {reason}"] += 1
            continue
        row = {**row, "night_consent": bool(latest[row["customer_id"]]["latest_night_consent"])}
        if not row["night_consent"] and in_quiet_hours(now):
            row["not_before"] = max(row["not_before"], earliest_send_time(now, night_consent=False))
        if row["not_before"] > now:
            outcome["waiting_for_send_window"] += 1
        else:
            due.append(row)
    _record(warehouse, closed)

    for batch in _batches(due, settings.batch_size):
        leased += _send_batch(warehouse, transport, campaign_id, batch, clock=clock, settings=settings,
                              outcome=outcome)
    summary = {"campaign_id": campaign_id, "transport": transport.name,
               **{key: value for key, value in sorted(outcome.items()) if value}, **_waiting_for_lease(leased, settings)}
    log.info("outbox of %s: %s", campaign_id, summary)
    if (warning := lease_warning(summary)) is not None:
        log.warning(warning)
    return summary


def _waiting_for_lease(rows: list[dict], settings: OutboxSettings) -> dict:
    """What the run leaves in `sending` under a lease, and when it will be reconciled: a row
    with an error (the claim clears it) asked the provider and got no answer (a timeout: the
    provider may have it); one without is held by an attempt that recorded nothing (still
    sending elsewhere, or its worker stopped). Nothing here is in flight in this run, and no run
    touches them before the lease expires; the first send run after that asks the provider."""
    if not rows:
        return {}
    unanswered = sum(row["error_message"] is not None for row in rows)
    expiry = max(row["attempt_started_at"] + settings.lease for row in rows)
    return {"waiting_for_lease": len(rows), "waiting_for_lease_unanswered": unanswered,
            "waiting_for_lease_no_outcome": len(rows) - unanswered,
            "leases_expire_at": expiry.astimezone(SEOUL).isoformat(),
            "reconciled_by_run_at": next_send_run(expiry).astimezone(SEOUL).isoformat()}


def lease_warning(summary: dict) -> str | None:
    """The operators' message for rows a send run leaves in `sending` (None when there are none)."""
    waiting = summary.get("waiting_for_lease")
    if not waiting:
        return None
    expires = dt.datetime.fromisoformat(summary["leases_expire_at"]).strftime("%Y-%m-%d %H:%M KST")
    run_at = dt.datetime.fromisoformat(summary["reconciled_by_run_at"]).strftime("%Y-%m-%d %H:%M KST")
    return (f"{waiting} SMS of {summary['campaign_id']} are not confirmed as sent: they wait in state sending for "
            f"their lease to expire ({summary['waiting_for_lease_unanswered']} after an attempt {summary['transport']} did not "
            f"answer: it may have them; {summary['waiting_for_lease_no_outcome']} claimed by an attempt that "
            f"recorded no outcome: still sending elsewhere, or its worker stopped). Nothing is sent twice: after "
            f"{expires} (RETENTION_OUTREACH_SENDING_LEASE_SECONDS) the first send run asks {summary['transport']} "
            f"and records each as sent or queues it again, at the latest the hourly run of {run_at}. Act only if "
            "they are still in sending after that run: its log says what the provider answered")


def _withheld(row: dict, latest: dict, transport: Transport, now: dt.datetime, settings: OutboxSettings) -> str | None:
    """Why a queued message may not go now, or None."""
    if latest["withheld_reason"]:
        return latest["withheld_reason"]
    if latest["advertising"] and not consent_stands(latest["latest_consent_date"], now.astimezone(SEOUL).date(),
                                                    reconfirmed_anniversary=latest["latest_reconfirmed_anniversary"],
                                                    period_days=settings.consent_valid_days):
        return "consent_not_reconfirmed"
    if not transport.simulated and DEMO_OPT_OUT_NUMBER in row["body"]:
        return "placeholder_opt_out_number"  # queued by a local run: its opt-out number reaches no one
    # An offer goes stale; a notice the law makes us owe does not (its due day raises an alert instead).
    if latest["advertising"] and now - row["queued_at"] > dt.timedelta(days=settings.message_ttl_days):
        return "expired"
    return None


def _reconcile(row: dict, transport: Transport, now: dt.datetime, outcome: Counter[str]) -> dict:
    """A row whose lease expired in `sending`: `sent` if the provider has it, else back to `queued`."""
    started = row["attempt_started_at"] or row["updated_at"]
    for found in transport.sent_to_since(row["phone_e164"], started):
        if not found.body or found.body == row["body"]:  # an empty body: redacted at the provider
            log.warning("SMS %s:%s was left in sending; %s already has it (%s): recorded as sent, not sent again",
                        row["campaign_id"], row["customer_id"], transport.name, found.provider_message_id)
            outcome["recovered_as_sent"] += 1
            return {**row, "state": "sent", "provider_message_id": found.provider_message_id,
                    "transport": transport.name, "simulated": transport.simulated,
                    "sent_at": found.created_at, "error_code": None, "error_message": None, "updated_at": now}
    log.warning("SMS %s:%s was left in sending; %s has no message to %s since %s: queued again",
                row["campaign_id"], row["customer_id"], transport.name, mask_number(row["phone_e164"]), started)
    outcome["requeued_after_unfinished_attempt"] += 1
    return {**row, "state": "queued", "updated_at": now}


def _send_batch(warehouse: Warehouse, transport: Transport, campaign_id: str, batch: list[dict], *,
                clock: Callable[[], dt.datetime], settings: OutboxSettings, outcome: Counter[str]) -> list[dict]:
    """Claim, send and record one batch; returns the rows it left in `sending` (unanswered)."""
    started, claim_id = clock(), uuid.uuid4().hex
    warehouse.run_file("outreach/messages/claim.sql", {
        "campaign_id": campaign_id, "customer_ids": [row["customer_id"] for row in batch],
        "claim_id": claim_id, "attempt_started_at": started,
    })
    held = {row["customer_id"] for row in warehouse.rows(
        "SELECT customer_id FROM `{{ outreach }}.messages` WHERE campaign_id = @campaign_id AND claim_id = @claim_id "
        "AND state = 'sending'", {"campaign_id": campaign_id, "claim_id": claim_id}, source="outreach.messages claim")}
    if len(held) < len(batch):
        outcome["claimed_by_another_run"] += len(batch) - len(held)
    # Stop well before the lease runs out: after it, another run may take the rows over.
    stop_at = started + settings.lease * 0.8
    results, opt_outs, stopped = [], [], None
    for row in (row for row in batch if row["customer_id"] in held):
        row = {**row, "state": "sending", "claim_id": claim_id, "attempt_started_at": started,
               "attempts": row["attempts"] + 1, "updated_at": started}
        moment = clock()
        if stopped is not None or moment >= stop_at:
            results.append(_unclaimed(row, moment))
            continue
        not_after = None if row["night_consent"] else send_window_end(moment)
        request = SendRequest.for_campaign(campaign_id, row["customer_id"], row["phone_e164"], row["body"],
                                           not_after=not_after)
        try:
            sent = transport.send(request)
        except SendWindowClosed:
            results.append({**_unclaimed(row, clock()),
                            "not_before": earliest_send_time(max(clock(), not_after), night_consent=False)})
            outcome["waiting_for_send_window"] += 1
        except SenderConfigurationError as error:
            results.append({**_unclaimed(row, clock()), "error_code": error.code, "error_message": str(error)})
            stopped = SendingStopped(f"{error}. Fix the sender in the Airflow connection (README, 'Senior "
                                     "outreach'), then clear the task: every queued message is still queued", retry=False)
        except PermanentSendError as error:
            results.append({**_closed(row, "skipped", error.reason, clock()), "error_code": error.code,
                            "error_message": str(error), "transport": transport.name})
            outcome[f"skipped: {error.reason}"] += 1
            if error.unsubscribed:
                opt_outs.append({"customer_id": row["customer_id"], "phone_key": row["phone_key"],
                                 "source": f"{transport.name}_{error.code}", "campaign_id": campaign_id,
                                 "recorded_at": clock()})
        except TransientSendError as error:
            results.append(_after_transient(row, error, transport, clock(), settings, outcome))
            stopped = SendingStopped(f"{error}; the provider is not taking messages now, so this run stops "
                                     "(the rest stay queued and the task is retried)", retry=True)
        else:
            results.append({**row, "state": "sent", "provider_message_id": sent.provider_message_id,
                            "transport": transport.name, "simulated": sent.simulated, "sent_at": clock(),
                            "error_code": None, "error_message": None, "updated_at": clock()})
            outcome["recovered_as_sent" if sent.recovered else "sent"] += 1
    _record(warehouse, results)
    if opt_outs:
        warehouse.insert_missing(warehouse.table_id("outreach", "opt_outs"), opt_outs, ("customer_id",))
    if stopped is not None:
        raise stopped
    return [row for row in results if row["state"] == "sending"]


def _unclaimed(row: dict, now: dt.datetime) -> dict:
    """Back to `queued`, not sent, the attempt not counted."""
    return {**row, "state": "queued", "attempts": row["attempts"] - 1, "updated_at": now}


def _after_transient(row: dict, error: TransientSendError, transport: Transport, now: dt.datetime,
                     settings: OutboxSettings, outcome: Counter[str]) -> dict:
    failed = {**row, "error_code": error.code, "error_message": str(error), "transport": transport.name,
              "updated_at": now}
    if error.ambiguous:
        # The provider may have it: left in sending; once its lease expires, a run asks first.
        outcome["left_in_sending"] += 1
        return failed
    if row["attempts"] >= settings.max_send_attempts:
        outcome["failed"] += 1
        return {**failed, "state": "failed", "reason": "provider_unavailable", "final_at": now}
    outcome["queued_after_transient_error"] += 1
    return {**failed, "state": "queued"}


def _closed(row: dict, state: str, reason: str, now: dt.datetime) -> dict:
    return {**row, "state": state, "reason": reason, "final_at": now, "updated_at": now}


def _batches(rows: Sequence[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield list(rows[start:start + size])


def _record(warehouse: Warehouse, rows: Sequence[dict[str, Any]]) -> None:
    """Write outbox rows' new states (one MERGE; final states are never changed)."""
    if not rows:
        return
    # The number came from contact.phone_numbers for the send: the outbox keeps its key only.
    rows = [{name: value for name, value in row.items() if name != "phone_e164"} for row in rows]
    with warehouse.staged_rows(warehouse.table_id("outreach", "messages"), rows) as staged_id:
        warehouse.run_file("outreach/messages/update.sql", identifiers={"staged": staged_id.rsplit(".", 1)[1]})


# --- delivery --------------------------------------------------------------------------------


def check_delivery(warehouse: Warehouse, transport: Transport, campaign_id: str, *,
                   clock: Callable[[], dt.datetime]) -> dict:
    """Fetch the status of every `sent` message of the campaign sent through `transport`."""
    rows = warehouse.rows(
        "SELECT * FROM `{{ outreach }}.messages` WHERE campaign_id = @campaign_id AND state = 'sent' "
        "AND transport = @transport ORDER BY customer_id",
        {"campaign_id": campaign_id, "transport": transport.name}, source="outreach.messages (sent)",
    )
    outcome: Counter[str] = Counter()
    updates = []
    for row in rows:
        try:
            status = transport.delivery(row["provider_message_id"])
        except LookupError as error:
            log.warning("SMS %s:%s: %s; left as sent", campaign_id, row["customer_id"], error)
            outcome["unknown_to_provider"] += 1
            continue
        state = DELIVERED.get(status.status)
        if state is None:
            outcome[f"still {status.status}"] += 1
            continue
        from retention.outreach.transports.errors import classify_error_code

        reason = None if state == "delivered" else classify_error_code(status.error_code)
        updates.append({**_closed(row, state, reason, clock()), "error_code": status.error_code,
                        "error_message": status.error_message})
        outcome[state] += 1
    _record(warehouse, updates)
    summary = {"campaign_id": campaign_id, "transport": transport.name, "checked": len(rows),
               **dict(sorted(outcome.items()))}
    log.info("delivery of %s: %s", campaign_id, summary)
    return summary
