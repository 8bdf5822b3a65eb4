"""The campaign and its outbox on the emulator, sending through the official Twilio client to the
fake Twilio API on loopback (or the local sink): who is messaged, when, and never twice.

The fake's own record of create requests is the proof of "at most one message per customer".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from fake_twilio import serve_fake_twilio
from outreach_scenario import OPT_OUT_NUMBER, WEEK, at, create_tables, people, publish_places, publish_week, with_changes
from retention.outreach.audience import AudienceSettings, group
from retention.outreach.campaign import QueueSettings, decide_audience, published_places, queue_messages
from retention.outreach.message import MessageSettings
from retention.outreach.outbox import OutboxSettings, SendingStopped, check_delivery, send_pending
from retention.outreach.transports.local_sink import LocalSink
from retention.outreach.transports.pacing import SendSettings
from retention.outreach.transports.twilio import TwilioTransport
from retention.places.geocode import Gazetteer

pytestmark = [pytest.mark.emulator]

CAMPAIGN = "senior-digital-literacy"
AUDIENCE = AudienceSettings(campaign_id=CAMPAIGN, holdout_share=0.10, consent_valid_days=730, cooldown_days=28)
MESSAGES = MessageSettings(opt_out_number=OPT_OUT_NUMBER)
FAST = SendSettings(rate_per_second=1000, max_attempts=2, timeout_seconds=1, backoff_seconds=0.01,
                    backoff_max_seconds=1, recheck_delay_seconds=0)
ELIGIBLE = [f"S-{i:03d}" for i in range(1, 31)]
MESSAGED = [c for c in ELIGIBLE if group(CAMPAIGN, c, 0.10) == "message"]
HELD_OUT = [c for c in ELIGIBLE if group(CAMPAIGN, c, 0.10) == "holdout"]


@pytest.fixture
def campaign(warehouse):
    create_tables(warehouse)
    publish_places(warehouse)
    publish_week(warehouse, WEEK, people())
    return warehouse


@pytest.fixture
def fake():
    with serve_fake_twilio() as twilio:
        yield twilio


def twilio(fake, now: dt.datetime) -> TwilioTransport:
    """The official client against the fake; the send window is checked at the test's `now`."""
    return TwilioTransport(fake.account_sid, fake.auth_token, messaging_service_sid=fake.messaging_service_sid,
                           base_url=fake.base_url, settings=FAST, clock=lambda: now)


def queue_week(warehouse, now: dt.datetime, week: dt.date = WEEK, run_id: str = "run-1") -> dict:
    decide_audience(warehouse, week, AUDIENCE, now=now, queue_settings=QueueSettings(max_week_age_days=7))
    return queue_messages(warehouse, week, campaign_id=CAMPAIGN, now=now, run_id=run_id, message_settings=MESSAGES,
                          queue_settings=QueueSettings(max_week_age_days=7), places=published_places(warehouse, week),
                          dong_centroid=Gazetteer.bundled().dong_centroid)


def send(warehouse, transport, now: dt.datetime, **settings) -> dict:
    return send_pending(warehouse, transport, CAMPAIGN, clock=lambda: now, settings=OutboxSettings(**settings))


def outbox(warehouse) -> dict[str, dict]:
    """The outbox, each row with the number its key names (the outbox holds the key only)."""
    rows = warehouse.rows("SELECT outbox.*, numbers.phone_e164 FROM `{{ outreach }}.messages` AS outbox "
                          "LEFT JOIN `{{ contact }}.phone_numbers` AS numbers USING (phone_key) ORDER BY customer_id")
    return {row["customer_id"]: row for row in rows}


def audience(warehouse, week: dt.date = WEEK) -> dict[str, tuple]:
    rows = warehouse.rows("SELECT customer_id, excluded_reason, campaign_group FROM `{{ outreach }}.campaign_audience` "
                          "WHERE snapshot_date = @w", {"w": week})
    return {row["customer_id"]: (row["excluded_reason"], row["campaign_group"]) for row in rows}


def creates_per_number(fake) -> Counter:
    return Counter(request.form["To"] for request in fake.creates())


def test_a_week_messages_each_eligible_senior_once_and_holds_out_the_control(campaign, fake):
    assert HELD_OUT and MESSAGED  # the hash puts at least one of thirty in each group
    now = at(WEEK, 10)
    queue_week(campaign, now)
    decided = audience(campaign)
    assert {c: decided[c] for c in decided if c.startswith("X-")} == {
        "X-NOCONSENT": ("no_sms_consent", None), "X-OLDCONSENT": ("consent_not_reconfirmed", None),
        "X-OPTEDOUT": ("opted_out", None), "X-LANDLINE": ("not_a_korean_mobile_number", None),
        "X-NODONG": ("no_home_dong", None),
    }
    assert "Y-YOUNG" not in decided and "Y-NOTNEW" not in decided
    assert sorted(c for c, (_, g) in decided.items() if g == "holdout") == HELD_OUT

    summary = send(campaign, twilio(fake, now), now)
    assert summary["sent"] == len(MESSAGED)
    rows = outbox(campaign)
    assert sorted(rows) == MESSAGED and all(row["state"] == "sent" for row in rows.values())
    assert set(creates_per_number(fake).values()) == {1}
    for message in fake.messages:
        assert message.body.startswith("(광고)[KT] "), message.body
        assert message.body.rstrip().endswith(f"무료수신거부 {OPT_OUT_NUMBER}"), message.body

    # The same week again (a re-run, a retry) and the next week with the same people: nothing more.
    queue_week(campaign, now, run_id="run-2")
    send(campaign, twilio(fake, now), now)
    assert audience(campaign) == decided
    next_week = WEEK + dt.timedelta(weeks=1)
    publish_week(campaign, next_week, people())
    queue_week(campaign, at(next_week, 10), week=next_week)
    send(campaign, twilio(fake, at(next_week, 10)), at(next_week, 10))
    assert len(fake.creates()) == len(MESSAGED)
    assert {reason for reason, _ in audience(campaign, next_week).values()} >= {"already_in_campaign"}

    eleven = at(WEEK, 11)
    assert check_delivery(campaign, twilio(fake, eleven), CAMPAIGN, clock=lambda: eleven)["checked"] == len(MESSAGED)
    for _ in range(3):  # the fake moves a message one status per fetch: queued, sending, sent, delivered
        check_delivery(campaign, twilio(fake, eleven), CAMPAIGN, clock=lambda: eleven)
    assert {row["state"] for row in outbox(campaign).values()} == {"delivered"}


def test_quiet_hours_hold_messages_until_eight_unless_night_consent(campaign, fake):
    late = at(WEEK, 22, 30)
    summary = queue_week(campaign, late)
    night = [c for c in MESSAGED if c in ("S-001", "S-002", "S-003")]
    assert summary["waiting_for_send_window"] == len(MESSAGED) - len(night)

    send(campaign, twilio(fake, late), late)
    rows = outbox(campaign)
    assert sorted(c for c, row in rows.items() if row["state"] == "sent") == night
    eight = at(WEEK, 8, days=1).astimezone(dt.UTC)
    assert {row["not_before"] for c, row in rows.items() if c not in night} == {eight}

    send(campaign, twilio(fake, at(WEEK, 7, 59, days=1)), at(WEEK, 7, 59, days=1))  # still the quiet hours
    assert len(fake.creates()) == len(night)
    send(campaign, twilio(fake, at(WEEK, 8, 0, days=1)), at(WEEK, 8, 0, days=1))
    assert {row["state"] for row in outbox(campaign).values()} == {"sent"}
    assert set(creates_per_number(fake).values()) == {1}


def test_a_crash_between_the_api_call_and_the_write_never_sends_twice(campaign, fake, monkeypatch):
    now = at(WEEK, 10)
    queue_week(campaign, now)
    from retention.outreach import outbox as outbox_module

    real_record = outbox_module._record
    calls = []

    def crash_after_the_first_batch_is_sent(warehouse, rows):
        calls.append(len(rows))
        if any(row["state"] == "sent" for row in rows):
            raise KeyboardInterrupt("worker killed after Twilio accepted the batch")
        real_record(warehouse, rows)

    monkeypatch.setattr(outbox_module, "_record", crash_after_the_first_batch_is_sent)
    with pytest.raises(KeyboardInterrupt):
        send(campaign, twilio(fake, now), now, batch_size=5)
    sending = [c for c, row in outbox(campaign).items() if row["state"] == "sending"]
    assert len(sending) == 5 and len(fake.creates()) == 5

    monkeypatch.setattr(outbox_module, "_record", real_record)
    # A retry within the lease leaves the claimed rows alone (their sender might still be alive),
    # and says so: they wait for the lease, claimed by an attempt that recorded no outcome...
    summary = send(campaign, twilio(fake, now), now, batch_size=5)
    assert summary["sent"] == len(MESSAGED) - 5 and "in_flight_elsewhere" not in summary
    assert (summary["waiting_for_lease"], summary["waiting_for_lease_no_outcome"]) == (5, 5)
    assert summary["leases_expire_at"] == (now + dt.timedelta(minutes=30)).isoformat()
    assert summary["reconciled_by_run_at"] == at(WEEK, 11).isoformat()
    assert len(fake.creates()) == len(MESSAGED)
    # ...and once it has expired, asks Twilio before anything else: found, recorded, not re-sent.
    later = now + dt.timedelta(minutes=31)
    summary = send(campaign, twilio(fake, later), later, batch_size=5)
    assert summary["recovered_as_sent"] == 5 and "sent" not in summary
    assert set(creates_per_number(fake).values()) == {1} and len(fake.creates()) == len(MESSAGED)
    rows = outbox(campaign)
    assert {row["state"] for row in rows.values()} == {"sent"}
    assert {rows[c]["provider_message_id"] for c in sending} == {m.sid for m in fake.messages if
                                                                 m.to in {rows[c]["phone_e164"] for c in sending}}


def test_provider_failures_are_recorded_retried_or_stopped_as_their_kind_requires(campaign, fake):
    now = at(WEEK, 10)
    queue_week(campaign, now)
    rows = outbox(campaign)
    invalid, unsubscribed, late = (rows[c]["phone_e164"] for c in MESSAGED[:3])
    fake.reject(invalid, 21211)
    fake.reject(unsubscribed, 21610)
    fake.answer_late(5, stored=True, to=late)  # the client times out; Twilio has it anyway
    fake.fail_next(429, times=1, retry_after="0")
    fake.fail_after(len(MESSAGED) - 6, 500, times=FAST.max_attempts)  # then an outage, longer than the retries

    with pytest.raises(SendingStopped) as stopped:
        send(campaign, twilio(fake, now), now)
    assert stopped.value.retry and "not taking messages now" in str(stopped.value)
    rows = outbox(campaign)
    assert rows[MESSAGED[0]]["state"] == "skipped" and rows[MESSAGED[0]]["reason"] == "invalid_number"
    assert rows[MESSAGED[1]]["state"] == "skipped" and rows[MESSAGED[1]]["reason"] == "unsubscribed"
    assert rows[MESSAGED[2]]["state"] == "sent"  # found at Twilio after the timeout, not sent again
    states = Counter(row["state"] for row in rows.values())
    assert states["queued"] >= 1 and states["sending"] == 0
    opt_outs = campaign.rows("SELECT customer_id, source FROM `{{ outreach }}.opt_outs`")
    assert opt_outs == [{"customer_id": MESSAGED[1], "source": "twilio_21610"}]

    send(campaign, twilio(fake, now), now)
    states = Counter(row["state"] for row in outbox(campaign).values())
    assert states == {"sent": len(MESSAGED) - 2, "skipped": 2}
    accepted = Counter(message.to for message in fake.messages)
    assert set(accepted.values()) == {1} and invalid not in accepted and unsubscribed not in accepted

    # The unsubscribe sticks: next week the customer is excluded as opted out.
    next_week = WEEK + dt.timedelta(weeks=1)
    publish_week(campaign, next_week, people())
    decide_audience(campaign, next_week, AUDIENCE, now=at(next_week, 10), queue_settings=QueueSettings(7))
    assert audience(campaign, next_week)[MESSAGED[1]] == ("opted_out", None)


def test_a_sender_misconfiguration_stops_at_once_and_leaves_everything_queued(campaign, fake):
    now = at(WEEK, 10)
    queue_week(campaign, now)
    fake.fail_next(401, code=20003, times=None)
    with pytest.raises(SendingStopped) as stopped:
        send(campaign, twilio(fake, now), now)
    assert not stopped.value.retry and "Airflow connection" in str(stopped.value)
    assert {row["state"] for row in outbox(campaign).values()} == {"queued"}
    assert {row["attempts"] for row in outbox(campaign).values()} == {0}


def test_who_opted_out_after_queueing_is_not_messaged_and_old_weeks_are_not_sent(campaign, tmp_path):
    now = at(WEEK, 22)  # queued in the quiet hours: nothing goes before 08:00
    queue_week(campaign, now)
    changed = with_changes(people(), **{MESSAGED[0]: {"opted_out": True}, MESSAGED[1]: {"sms_consent": False}})
    publish_week(campaign, WEEK + dt.timedelta(weeks=1), changed)  # the newer contacts file
    sink = LocalSink(tmp_path / "sms.jsonl", clock=lambda: at(WEEK, 9, days=1))
    send(campaign, sink, at(WEEK, 9, days=1))
    rows = outbox(campaign)
    assert (rows[MESSAGED[0]]["state"], rows[MESSAGED[0]]["reason"]) == ("skipped", "opted_out_before_send")
    assert (rows[MESSAGED[1]]["state"], rows[MESSAGED[1]]["reason"]) == ("skipped", "consent_withdrawn")
    sent = [row for row in rows.values() if row["state"] == "sent"]
    assert sent and all(row["simulated"] and row["transport"] == "local_sink" for row in sent)
    assert len(sink.path.read_text().splitlines()) == len(sent)

    old_week = WEEK - dt.timedelta(weeks=3)
    publish_week(campaign, old_week, people())
    summary = queue_week(campaign, at(WEEK, 10), week=old_week)
    assert summary.get("too_old") and audience(campaign, old_week)  # the audience is recorded, nothing queued


def test_two_senders_at_once_never_send_a_message_twice(campaign, fake):
    """An hourly run beside a backfill, or a task retried while its first worker still runs: both
    read the same queued rows; the claims decide who sends each one."""
    import threading

    from retention.config import Settings
    from retention.warehouse import Warehouse

    now = at(WEEK, 10)
    queue_week(campaign, now)
    fake.answer_late(0.05, stored=True, times=1000)  # slow answers: the two runs overlap
    settings = Settings.from_env()
    outcomes, errors = [], []

    def sender() -> None:
        try:
            outcomes.append(send(Warehouse.connect(settings), twilio(fake, now), now, batch_size=4))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert set(creates_per_number(fake).values()) == {1} and len(fake.creates()) == len(MESSAGED)
    assert sum(outcome.get("sent", 0) for outcome in outcomes) == len(MESSAGED)
    assert {row["state"] for row in outbox(campaign).values()} == {"sent"}


def test_a_message_that_would_leave_after_nine_pm_waits_for_the_morning(campaign, fake):
    before = at(WEEK, 20, 59)
    queue_week(campaign, before)
    # The outbox reads the rows at 20:59; by the time the transport is ready to send, it is 21:00.
    send(campaign, twilio(fake, at(WEEK, 21, 0)), before)
    night = {"S-001", "S-002", "S-003"}
    sent = {c for c, row in outbox(campaign).items() if row["state"] == "sent"}
    assert sent == night & set(MESSAGED)
    waiting = [row for c, row in outbox(campaign).items() if c not in night]
    assert {(row["state"], row["not_before"], row["attempts"]) for row in waiting} == {
        ("queued", at(WEEK, 8, days=1).astimezone(dt.UTC), 0)}


def test_a_timed_out_send_is_reported_as_waiting_for_its_lease_with_the_time_it_will_be_reconciled(campaign, fake):
    """What an operator saw: the retry of a send run whose create timed out ended green with
    `in_flight_elsewhere: 1`, though nothing was in flight. It says what waits, and until when."""
    from retention.outreach.outbox import lease_warning

    now = at(WEEK, 10)
    queue_week(campaign, now)
    late = outbox(campaign)[MESSAGED[0]]["phone_e164"]
    fake.answer_late(3, stored=False, to=late)  # the request never got through; the client timed out
    with pytest.raises(SendingStopped) as stopped:  # the first try stops (Airflow retries it)
        send(campaign, twilio(fake, now), now)
    assert stopped.value.retry

    summary = send(campaign, twilio(fake, now), now)  # the retry, within the lease: green
    assert "in_flight_elsewhere" not in summary
    assert (summary["waiting_for_lease"], summary["waiting_for_lease_unanswered"],
            summary["waiting_for_lease_no_outcome"]) == (1, 1, 0)
    assert summary["leases_expire_at"] == "2026-11-23T10:30:00+09:00"
    assert summary["reconciled_by_run_at"] == "2026-11-23T11:00:00+09:00"
    warning = lease_warning(summary)
    assert "1 SMS of senior-digital-literacy are not confirmed as sent" in warning
    assert "after 2026-11-23 10:30 KST" in warning and "the hourly run of 2026-11-23 11:00 KST" in warning
    assert creates_per_number(fake)[late] == 1

    # The hourly run after the lease asks Twilio (nothing there), queues it again and sends it once.
    summary = send(campaign, twilio(fake, at(WEEK, 11)), at(WEEK, 11))
    assert summary["requeued_after_unfinished_attempt"] == 1 and summary["sent"] == 1
    assert "waiting_for_lease" not in summary and lease_warning(summary) is None
    assert Counter(message.to for message in fake.messages)[late] == 1
    assert {row["state"] for row in outbox(campaign).values()} == {"sent"}


def test_a_customer_who_left_is_skipped_as_no_longer_customer_not_as_consent_withdrawn(campaign, tmp_path):
    """What an operator saw: a customer absent from the latest week's customers was skipped as
    `consent_withdrawn`. Each cause has its reason."""
    queue_week(campaign, at(WEEK, 22))  # in the quiet hours: nothing goes before 08:00
    left, withdrew, no_contact = MESSAGED[:3]
    next_week = WEEK + dt.timedelta(weeks=1)
    crowd = with_changes(people(), **{withdrew: {"sms_consent": False}})
    publish_week(campaign, next_week, [person for person in crowd if person.customer_id != left])
    campaign.run("DELETE FROM `{{ core }}.contacts` WHERE snapshot_date = @w AND customer_id = @c",
                 {"w": next_week, "c": no_contact})  # still a customer, but the contacts file lost them

    send(campaign, LocalSink(tmp_path / "sms.jsonl", clock=lambda: at(WEEK, 9, days=1)), at(WEEK, 9, days=1))
    rows = outbox(campaign)
    assert (rows[left]["state"], rows[left]["reason"]) == ("skipped", "no_longer_customer")
    assert (rows[withdrew]["state"], rows[withdrew]["reason"]) == ("skipped", "consent_withdrawn")
    assert (rows[no_contact]["state"], rows[no_contact]["reason"]) == ("skipped", "no_contact_record")
    assert {row["state"] for c, row in rows.items() if c not in (left, withdrew, no_contact)} == {"sent"}


def test_a_late_rerun_of_a_decided_week_says_it_kept_the_decisions_not_that_it_recorded_week_too_old(
    campaign, caplog
):
    """What an operator saw: "its seniors are recorded as week_too_old and nobody is messaged" for a
    week decided in time and kept (`decided_now: 0`). The log says only what the run did."""
    import logging

    queue_week(campaign, at(WEEK, 10))
    late = at(WEEK, 10, days=21)
    caplog.set_level(logging.WARNING, logger="retention.outreach.campaign")
    summary = decide_audience(campaign, WEEK, AUDIENCE, now=late, queue_settings=QueueSettings(7))
    assert summary["decided_now"] == 0 and summary["too_old"]
    said = " ".join(record.getMessage() for record in caplog.records)
    assert "recorded as week_too_old" not in said and "week_too_old by an earlier run" not in said
    assert "35 decided by an earlier run, in time, kept as they were" in said
    assert "excluded: week_too_old" not in summary

    # A week decided for the first time too late: those it records now are week_too_old, and it says so.
    old_week = WEEK - dt.timedelta(weeks=3)
    publish_week(campaign, old_week, people())
    caplog.clear()
    summary = decide_audience(campaign, old_week, AUDIENCE, now=at(WEEK, 10), queue_settings=QueueSettings(7))
    said = " ".join(record.getMessage() for record in caplog.records)
    assert summary["decided_now"] == summary["excluded: week_too_old"] == 35
    assert "35 senior(s) decided now, recorded as week_too_old (in no group)" in said
    assert "earlier run" not in said
