"""The consent notices of the Network Act on the emulator, over several weeks: two-year
re-confirmations and the results of opt-outs and consents, each sent once, in time, never at
night, never as an advertisement; and the audience relying on an old consent only once its
re-confirmation went out. Sent through the local sink with a simulated clock, whose file is
the record of every message it was given (a second send would be a second line)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from outreach_scenario import (
    OPT_OUT_NUMBER, SEOUL, WEEK, Person, at, create_tables, phone_key, publish_week, with_changes,
)
from retention.marts.build import refresh_consent_notices
from retention.outreach.audience import AudienceSettings
from retention.outreach.campaign import QueueSettings, decide_audience
from retention.outreach.consent_notices import NoticeSettings, queue_notices
from retention.outreach.message import AD_MARK
from retention.outreach.notice_sending import open_notices, overdue_warning, send_notices
from retention.outreach.outbox import OutboxSettings
from retention.outreach.quiet_hours import in_quiet_hours
from retention.outreach.transports.local_sink import LocalSink

pytestmark = [pytest.mark.emulator]

NOTICES = NoticeSettings(sender="KT", opt_out_number=OPT_OUT_NUMBER, lead_days=30)
OUTBOX = OutboxSettings()


def crowd_of_week(k: int) -> list[Person]:
    """The contacts of week k (WEEK + k weeks): consent dates stay put while the weeks advance."""
    base = [
        Person("R-SOON", 1, consent_days_before=730 - 20),   # anniversary in 20 days: notice on day 0
        Person("R-LATER", 2, consent_days_before=730 - 45),  # anniversary in 45 days: notice from day 15
        Person("R-PASSED", 3, consent_days_before=800),      # anniversary 70 days ago, never told: a late notice
        Person("O-080", 4),                                  # opts out in week 1 (080 line -> contacts flag)
        Person("N-NEW", 5, sms_consent=False),               # consents on day 12 (seen in week 2)
        Person("W-WITHDRAW", 6),                             # withdraws consent in week 3
        Person("Q-QUIET", 7),                                # nothing happens: nothing owed
        Person("R-OPTS", 8, consent_days_before=730 - 10),   # due a re-confirmation, texts STOP first
    ]
    crowd = with_changes(base, **{p.customer_id: {"consent_days_before": p.consent_days_before + 7 * k}
                                  for p in base if p.sms_consent})
    changes: dict[str, dict] = {}
    if k >= 1:
        changes["O-080"] = {"opted_out": True}
        changes["R-OPTS"] = {"opted_out": True, "consent_days_before": 720 + 7 * k}  # the contacts catch up
    if k >= 2:
        changes["N-NEW"] = {"sms_consent": True, "consent_days_before": 7 * (k - 2) + 2}
    if k >= 3:
        changes["W-WITHDRAW"] = {"sms_consent": False}
    return with_changes(crowd, **changes)


def sink_lines(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(warehouse, sink_path, moment: dt.datetime, run_id: str) -> dict:
    """One consent_notices run at `moment`: queue what is owed, send what may go."""
    sink = LocalSink(sink_path, clock=lambda: moment)
    queued = queue_notices(warehouse, now=moment, run_id=run_id, settings=NOTICES)
    sent = send_notices(warehouse, sink, clock=lambda: moment, settings=OUTBOX)
    return {"queued": queued, "sent": sent}


def test_weeks_of_anniversaries_and_requests_send_one_notice_each_in_time_never_at_night(warehouse, tmp_path):
    create_tables(warehouse)
    sink_path = tmp_path / "sms.jsonl"
    published = set()
    # Runs at 06:30 (quiet hours: may queue, never send), 10:00 and 22:30; day 7 twice (a re-run).
    for day in (0, 1, 7, 7, 14, 15, 21, 28):
        k = day // 7
        if k not in published:
            publish_week(warehouse, WEEK + dt.timedelta(weeks=k), crowd_of_week(k))
            published.add(k)
        for hour, minute in ((6, 30), (10, 0), (22, 30)):
            run(warehouse, sink_path, at(WEEK, hour, minute, days=day), f"run-{day}-{hour}")
            if (day, hour) == (0, 6):  # R-OPTS texts STOP: the provider reports an unsubscribe
                warehouse.insert_missing(warehouse.table_id("outreach", "opt_outs"), [{
                    "customer_id": "R-OPTS", "phone_key": phone_key(Person("R-OPTS", 8).phone_e164),
                    "source": "twilio_21610", "campaign_id": None, "recorded_at": at(WEEK, 7)}], ("customer_id",))

    lines = sink_lines(sink_path)
    per_number = Counter((line["to"], line["body"].split("\n")[0]) for line in lines)
    assert set(per_number.values()) == {1}, f"a notice went twice: {per_number}"
    for line in lines:
        assert AD_MARK not in line["body"] and line["body"].startswith("[KT] "), line["body"]
        assert not in_quiet_hours(dt.datetime.fromisoformat(line["created_at"])), line

    notices = {(row["customer_id"], row["notice_kind"]): row for row in warehouse.rows(
        "SELECT notices.*, outbox.state, outbox.reason, outbox.sent_at, outbox.body FROM "
        "`{{ outreach }}.consent_notices` AS notices JOIN `{{ outreach }}.messages` AS outbox "
        "USING (campaign_id, customer_id) ORDER BY customer_id")}
    assert sorted(notices) == sorted([
        ("R-SOON", "consent_reconfirmation"), ("R-LATER", "consent_reconfirmation"),
        ("R-PASSED", "consent_reconfirmation"), ("O-080", "opt_out"), ("N-NEW", "consent"),
        ("W-WITHDRAW", "consent_withdrawn"), ("R-OPTS", "consent_reconfirmation"), ("R-OPTS", "opt_out"),
    ])  # nothing for Q-QUIET, and R-OPTS's opt-out once although the contacts showed it too
    for key, row in notices.items():
        if key == ("R-OPTS", "consent_reconfirmation"):  # moot: they opted out before it could go
            assert (row["state"], row["reason"]) == ("skipped", "opted_out_before_send")
            continue
        assert row["state"] == "sent", (key, row["state"], row["reason"])
        if key[0] != "R-PASSED":  # found after its anniversary: late by construction, sent at once
            assert row["sent_at"].astimezone(SEOUL).date() <= row["due_by"], key
    sent_on = {key: row["sent_at"].astimezone(SEOUL).date() for key, row in notices.items() if row["sent_at"]}
    assert sent_on[("R-SOON", "consent_reconfirmation")] == WEEK  # 20 days ahead: on day 0, at 10:00
    assert sent_on[("R-LATER", "consent_reconfirmation")] == WEEK + dt.timedelta(days=15)
    assert sent_on[("N-NEW", "consent")] == WEEK + dt.timedelta(days=14)
    assert notices[("N-NEW", "consent")]["requested_on"] == WEEK + dt.timedelta(days=12)
    assert "수신거부" in notices[("O-080", "opt_out")]["body"]
    assert [row for row in open_notices(warehouse, WEEK + dt.timedelta(days=28)) if row["alert"]] == []
    assert overdue_warning(warehouse, at(WEEK, 10, days=28)) is None


def test_a_request_unanswered_at_day_ten_is_an_alert_and_a_late_re_confirmation_restores_the_consent(
        warehouse, tmp_path):
    create_tables(warehouse)
    crowd = [Person("O-080", 4, dong="11680101"), Person("R-PASSED", 3, consent_days_before=800, dong="11680101")]
    publish_week(warehouse, WEEK, crowd)
    next_week = WEEK + dt.timedelta(weeks=1)
    moved = with_changes(crowd, **{"O-080": {"opted_out": True}, "R-PASSED": {"consent_days_before": 807}})
    publish_week(warehouse, next_week, moved)
    # Queued on the week's Monday, but never sent (the send runs did not happen).
    queue_notices(warehouse, now=at(next_week, 10), run_id="q", settings=NOTICES)
    at_day_nine = overdue_warning(warehouse, at(next_week, 10, days=9))
    assert at_day_nine and "1 consent_reconfirmation" in at_day_nine and "opt_out" not in at_day_nine
    at_day_ten = overdue_warning(warehouse, at(next_week, 10, days=10))
    assert "1 opt_out" in at_day_ten and "marts.consent_notices" in at_day_ten
    # The mart shows the same notices, as of today (Seoul): unanswered, with their alert day.
    today = dt.datetime.now(SEOUL).date()
    refresh_consent_notices(warehouse, today)
    mart = {row["notice_kind"]: row for row in warehouse.rows("SELECT * FROM `{{ marts }}.consent_notices`")}
    assert sorted(mart) == ["consent_reconfirmation", "opt_out"]
    for kind, row in mart.items():
        assert row["unanswered"] and row["state"] == "queued" and not row["answered_in_time"]
        assert row["days_left"] == (row["due_by"] - today).days
    assert mart["opt_out"]["alert"] == (today >= mart["opt_out"]["requested_on"] + dt.timedelta(days=10))
    assert mart["consent_reconfirmation"]["alert"]  # its anniversary passed long ago

    # R-PASSED's consent is 807 days old and was never re-confirmed: not relied on...
    audience = AudienceSettings(campaign_id="c", holdout_share=0.0, consent_valid_days=730, cooldown_days=28)
    queue = QueueSettings(max_week_age_days=7)
    def decided(week):
        decide_audience(warehouse, week, audience, now=at(week, 9), queue_settings=queue)
        rows = warehouse.rows("SELECT customer_id, excluded_reason FROM `{{ outreach }}.campaign_audience` "
                              "WHERE snapshot_date = @w", {"w": week})
        return {row["customer_id"]: row["excluded_reason"] for row in rows}
    assert decided(next_week)["R-PASSED"] == "consent_not_reconfirmed"
    # ... until its notice went out: then it stands (the customer was told and did not withdraw).
    send_notices(warehouse, LocalSink(tmp_path / "sms.jsonl", clock=lambda: at(next_week, 11)),
                 clock=lambda: at(next_week, 11), settings=OUTBOX)
    third = WEEK + dt.timedelta(weeks=2)
    publish_week(warehouse, third, with_changes(moved, **{"R-PASSED": {"consent_days_before": 814}}))
    assert decided(third)["R-PASSED"] is None
    assert overdue_warning(warehouse, at(next_week, 10, days=10)) is None  # both answered
