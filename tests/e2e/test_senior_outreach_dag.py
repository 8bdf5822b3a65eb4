"""Real Airflow runs of senior_outreach (dag.test) on the emulator: four weeks with the local
sink (re-runs, a backfill and a night run among them), then a run against a fake Twilio that
misbehaves. The checks are the campaign's promises, read from what left the platform (the sink's
file, the fake's record of requests), not from the outbox's own account of itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pendulum
import pytest
from fake_twilio import serve_fake_twilio
from outreach_scenario import OPT_OUT_NUMBER, SEOUL, Person, create_tables, people, publish_places, publish_week
from retention.config import PROJECT_ROOT
from retention.outreach.audience import group
from retention.outreach.quiet_hours import in_quiet_hours

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]

CAMPAIGN = "senior-digital-literacy"
WEEKS = [dt.date(2026, 11, 2) + dt.timedelta(weeks=i) for i in range(4)]
NIGHT_CONSENT_IDS = {"S-001", "S-002", "S-003"}


@pytest.fixture
def senior_outreach(airflow_db, warehouse, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", OPT_OUT_NUMBER)
    monkeypatch.setenv("RETENTION_SMS_SINK_PATH", str(tmp_path / "sms.jsonl"))
    monkeypatch.delenv("AIRFLOW_CONN_TWILIO_DEFAULT", raising=False)
    create_tables(warehouse)
    publish_places(warehouse)
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "senior_outreach.py")).dags["senior_outreach"]


def crowd(week_number: int) -> list[Person]:
    """Seniors newly at risk: thirty in the first week, ten more each week, the earlier ones again."""
    return people(eligible=30 + 10 * week_number)


def run(dag, monkeypatch, week: dt.date, at: str, **conf):
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", f"{at}+09:00")
    result = dag.test(logical_date=pendulum.datetime(week.year, week.month, week.day, 10, tz="Asia/Seoul"),
                      run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in result.get_task_instances()}
    assert str(result.state) == "success", states
    return result


def sink_records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_four_weeks_with_reruns_a_backfill_and_a_night_never_message_anyone_twice(
    senior_outreach, warehouse, monkeypatch, tmp_path
):
    for number, week in enumerate(WEEKS):
        publish_week(warehouse, week, crowd(number))
    run(senior_outreach, monkeypatch, WEEKS[0], f"{WEEKS[0]}T10:00:00")
    run(senior_outreach, monkeypatch, WEEKS[0], f"{WEEKS[0]}T10:05:00")  # a re-run of the week
    run(senior_outreach, monkeypatch, WEEKS[1], f"{WEEKS[1]}T10:00:00")
    before_night = len(sink_records(tmp_path / "sms.jsonl"))
    run(senior_outreach, monkeypatch, WEEKS[2], f"{WEEKS[2]}T22:30:00")  # scores late: the quiet hours
    # None of the week's new seniors agreed to night-time messages: nothing went out; they wait for 08:00.
    assert len(sink_records(tmp_path / "sms.jsonl")) == before_night
    run(senior_outreach, monkeypatch, WEEKS[2], f"{WEEKS[2] + dt.timedelta(days=1)}T08:00:00", send_only=True)
    run(senior_outreach, monkeypatch, WEEKS[1], f"{WEEKS[3]}T09:00:00")  # a backfill of week 2
    run(senior_outreach, monkeypatch, WEEKS[3], f"{WEEKS[3]}T10:00:00")

    records = sink_records(tmp_path / "sms.jsonl")
    per_customer = Counter(record["idempotency_key"].split(":", 1)[1] for record in records)
    assert per_customer and set(per_customer.values()) == {1}, per_customer.most_common(3)
    everyone = {p.customer_id for p in people(eligible=60) if p.customer_id.startswith("S-")}
    messaged = {c for c in everyone if group(CAMPAIGN, c, 0.10) == "message"}
    assert set(per_customer) == messaged  # every eligible senior of the message group, once
    for record in records:
        assert record["body"].startswith("(광고)[KT] "), record["body"]
        assert record["body"].endswith(f"무료수신거부 {OPT_OUT_NUMBER}"), record["body"]
        sent_at = dt.datetime.fromisoformat(record["created_at"])
        assert not in_quiet_hours(sent_at) or record["idempotency_key"].split(":")[1] in NIGHT_CONSENT_IDS
    waited = warehouse.rows(
        "SELECT COUNT(*) AS n, MIN(sent_at) AS first FROM `{{ outreach }}.messages` WHERE snapshot_date = @w",
        {"w": WEEKS[2]})[0]
    assert waited["n"] == sum(group(CAMPAIGN, f"S-{i:03d}", 0.10) == "message" for i in range(41, 51))
    assert waited["first"].astimezone(SEOUL).time() == dt.time(8, 0)

    audience = warehouse.rows(
        "SELECT snapshot_date AS week, COUNTIF(campaign_group IS NOT NULL) AS grouped, "
        "COUNTIF(excluded_reason = 'already_in_campaign') AS again FROM `{{ outreach }}.campaign_audience` "
        "GROUP BY week ORDER BY week")
    assert [row["grouped"] for row in audience] == [30, 10, 10, 10]
    assert [row["again"] for row in audience] == [0, 30, 40, 50]
    outbox = Counter(row["state"] for row in warehouse.rows("SELECT state FROM `{{ outreach }}.messages`"))
    assert outbox == {"delivered": len(messaged)}  # check_delivery asked the sink after each run


class InjectedClock:
    """The outreach's clock in a test: `RETENTION_OUTREACH_SIMULATED_NOW`, read by the DAG's tasks,
    the same time given to the fake Twilio (which stamps its messages with it), and moved on by
    the test alone. So a test runs at the hour it chooses, whatever the real clock says."""

    def __init__(self, monkeypatch, start: dt.datetime) -> None:
        self._monkeypatch = monkeypatch
        self.set(start)

    def set(self, moment: dt.datetime) -> None:
        self.moment = moment.astimezone(dt.UTC)
        self._monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", self.moment.isoformat())

    def advance(self, seconds: float) -> None:
        self.set(self.moment + dt.timedelta(seconds=seconds))

    def now(self) -> dt.datetime:
        return self.moment


QUIET_HOURS_START = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)  # a Monday, 22:00 KST
DAYTIME_START = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # the same Monday, 11:00 KST


@pytest.mark.parametrize("start", [DAYTIME_START, QUIET_HOURS_START], ids=["11h00-KST", "22h00-KST-quiet-hours"])
def test_a_misbehaving_twilio_never_gets_a_second_message_for_anyone(senior_outreach, warehouse, monkeypatch, start):
    """The official client against a fake Twilio that fails in ways the unit tests do not script
    one by one: an outage that outlasts the client's retries (the task fails, Airflow retries
    it), a lost answer, a dropped request, a rate limit, a failing list, an unsubscribe, a
    landline, a carrier filter. The clock is injected (the same for the platform and the fake),
    once in the daytime and once in the quiet hours: then only customers with night-time consent
    are messaged, the others wait for 08:00, and the hourly runs from 08:00 on send them; every
    check below holds at both hours, whatever the hour of the real clock."""
    from airflow.utils.state import DagRunState

    clock = InjectedClock(monkeypatch, start)
    week = start.astimezone(SEOUL).date() - dt.timedelta(days=start.astimezone(SEOUL).weekday())
    crowd = people(eligible=20)
    publish_week(warehouse, week, crowd)
    phones = {p.customer_id: p.phone_e164 for p in crowd}
    messaged = [c for c in phones if c.startswith("S-") and group(CAMPAIGN, c, 0.10) == "message"]
    with serve_fake_twilio(clock=clock.now) as fake:
        for name, value in {"AIRFLOW_CONN_TWILIO_DEFAULT": fake.airflow_connection(local_fake=True),
                            "RETENTION_SMS_TIMEOUT_SECONDS": "1", "RETENTION_SMS_MAX_ATTEMPTS": "2",
                            "RETENTION_SMS_BACKOFF_SECONDS": "0.01", "RETENTION_SMS_RECHECK_DELAY_SECONDS": "0",
                            "RETENTION_SMS_RATE_PER_SECOND": "1000",
                            # A message left in sending by the dropped request is asked about again
                            # once its lease has expired: seconds here, half an hour by default.
                            "RETENTION_OUTREACH_SENDING_LEASE_SECONDS": "4"}.items():
            monkeypatch.setenv(name, value)
        fake.fail_next(500, times=2)  # longer than the client's two attempts: the task fails and is retried
        fake.answer_late(3, stored=True, to=phones[messaged[3]])  # Twilio has it, its answer is lost
        fake.answer_late(3, stored=False, to=phones[messaged[4]])  # the request never got through
        fake.fail_next(429, retry_after="0", to=phones[messaged[5]])
        fake.fail_next(500, method="GET", times=1)  # the first list (a reconciliation) fails once
        fake.reject(phones[messaged[6]], 21610)
        fake.reject(phones[messaged[7]], 21614)
        fake.deliver_as(phones[messaged[8]], "undelivered", 30007)
        logical = pendulum.datetime(week.year, week.month, week.day, 10, tz="Asia/Seoul")
        tries = []
        for _ in range(2):  # the run, then a re-run of it
            result = senior_outreach.test(logical_date=logical)
            assert result.state == DagRunState.SUCCESS, {t.task_id: t.state for t in result.get_task_instances()}
            tries.append({t.task_id: t.try_number for t in result.get_task_instances()}["send_messages"])
        rows = {row["customer_id"]: row for row in warehouse.rows("SELECT * FROM `{{ outreach }}.messages`")}
        if in_quiet_hours(start):
            # Only the outage failed a try: the scripted customers (no night-time consent) were not
            # sent to at all. They wait, queued, for 08:00; those with night-time consent went.
            assert tries == [2, 1]
            night = [c for c in messaged if c in NIGHT_CONSENT_IDS]
            assert night and {message.to for message in fake.messages} == {phones[c] for c in night}
            waiting = [rows[c] for c in messaged if c not in NIGHT_CONSENT_IDS]
            assert {row["state"] for row in waiting} == {"queued"}
            morning = dt.datetime.combine(week + dt.timedelta(days=1), dt.time(8), SEOUL)
            assert {row["not_before"] for row in waiting} == {morning}
            clock.set(morning - dt.timedelta(seconds=5))
        else:
            # The outage, then the dropped request, each failed a try; Airflow's retries sent the rest.
            assert tries == [3, 1]
        for _ in range(8):  # the hourly runs that send what is left and follow deliveries, until all is final
            clock.advance(5)  # past the 4-second lease of a message left in sending
            senior_outreach.test(logical_date=logical, run_conf={"send_only": True})
            unfinished = "SELECT 1 FROM `{{ outreach }}.messages` WHERE state IN ('queued', 'sending', 'sent')"
            if not warehouse.rows(unfinished):
                break

        accepted = Counter(message.to for message in fake.messages)
        assert set(accepted.values()) <= {1}, accepted.most_common(3)
        held_out = {phones[c] for c in phones if c.startswith("S-") and c not in messaged}
        assert not held_out & set(accepted) and not held_out & {r.form["To"] for r in fake.creates()}
        for message in fake.messages:
            assert message.body.startswith("(광고)[KT] ") and message.body.endswith(f"무료수신거부 {OPT_OUT_NUMBER}")
            customer = next(c for c, phone in phones.items() if phone == message.to)
            assert not in_quiet_hours(message.at) or customer in NIGHT_CONSENT_IDS
        rows = {row["customer_id"]: row for row in warehouse.rows("SELECT * FROM `{{ outreach }}.messages`")}
        assert (rows[messaged[6]]["state"], rows[messaged[6]]["reason"]) == ("skipped", "unsubscribed")
        assert (rows[messaged[7]]["state"], rows[messaged[7]]["reason"]) == ("skipped", "cannot_receive_sms")
        assert set(accepted) == {phones[c] for c in messaged} - {phones[messaged[6]], phones[messaged[7]]}
        assert (rows[messaged[8]]["state"], rows[messaged[8]]["reason"]) == ("undelivered", "blocked")
        assert Counter(row["state"] for row in rows.values())["delivered"] == len(messaged) - 3
