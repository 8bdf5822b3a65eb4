"""Operations on real Airflow runs (dag.test): a task that fails for good raises exactly one
alert, through a webhook on loopback (or recorded as off without a connection), and every task
try leaves an audit row that ops.run_audit turns into one row per run."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pendulum
import pytest
from loopback import RequestLog, serve_in_thread
from outreach_scenario import WEEK, create_tables, people, publish_places, publish_week
from retention.config import PROJECT_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]


@pytest.fixture
def webhook():
    """A webhook on loopback that records the JSON bodies posted to it."""
    received: RequestLog[dict] = RequestLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.add({"path": self.path, "authorization": self.headers.get("Authorization"),
                          "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    with serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "webhook") as origin:
        yield origin, received


@pytest.fixture
def senior_outreach(airflow_db, warehouse, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RETENTION_SMS_SINK_PATH", str(tmp_path / "sms.jsonl"))
    create_tables(warehouse)
    publish_places(warehouse)
    publish_week(warehouse, WEEK, people())
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "senior_outreach.py")).dags["senior_outreach"]


def _run(dag):
    run = dag.test(logical_date=pendulum.datetime(WEEK.year, WEEK.month, WEEK.day, 10, tz="Asia/Seoul"))
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_task_that_fails_for_good_sends_exactly_one_alert(senior_outreach, warehouse, webhook, monkeypatch):
    origin, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_RETENTION_ALERTS", json.dumps(
        {"conn_type": "http", "host": f"{origin}/hooks/on-call", "password": "webhook-token"}))
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", f"{WEEK}T10:00:00+09:00")
    monkeypatch.delenv("RETENTION_SMS_OPT_OUT_NUMBER", raising=False)  # queue_messages cannot render: fails fast

    run, states = _run(senior_outreach)

    assert str(run.state) == "failed" and states["queue_messages"] == "failed", states
    posts = received.snapshot()
    assert len(posts) == 1, posts
    alert = posts[0]
    assert alert["path"] == "/hooks/on-call" and alert["authorization"] == "Bearer webhook-token"
    assert (alert["body"]["kind"], alert["body"]["dag_id"], alert["body"]["task_id"]) == (
        "task_failed", "senior_outreach", "queue_messages")
    assert "RETENTION_SMS_OPT_OUT_NUMBER" in alert["body"]["message"]
    alerts = warehouse.rows("SELECT kind, dag_id, task_id, run_id, channel, delivered FROM `{{ ops }}.alerts`")
    assert alerts == [{"kind": "task_failed", "dag_id": "senior_outreach", "task_id": "queue_messages",
                       "run_id": run.run_id, "channel": "webhook", "delivered": True}]
    assert "webhook-token" not in json.dumps(alerts)

    tries = warehouse.rows("SELECT task_id, state, try_number, rows_read, rows_written FROM `{{ ops }}.task_runs` "
                           "WHERE run_id = @r ORDER BY task_id", {"r": run.run_id})
    assert [(t["task_id"], t["state"]) for t in tries] == [("decide_audience", "success"),
                                                         ("queue_messages", "failed")]
    assert tries[0]["rows_read"] == tries[0]["rows_written"] == 35  # 30 eligible + 5 excluded seniors
    warehouse.run_file("ops/run_audit/view.sql")
    audit = warehouse.rows("SELECT dag_id, tasks, tasks_failed, rows_read, outcome, duration_seconds "
                           "FROM `{{ ops }}.run_audit` WHERE run_id = @r", {"r": run.run_id})
    assert len(audit) == 1 and audit[0]["outcome"] == "failed" and audit[0]["tasks_failed"] == 1
    assert audit[0]["tasks"] == 2 and audit[0]["rows_read"] == 35 and audit[0]["duration_seconds"] > 0


def test_without_an_alert_connection_the_alert_is_recorded_as_off(senior_outreach, warehouse, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_RETENTION_ALERTS", raising=False)
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", f"{WEEK}T10:00:00+09:00")
    monkeypatch.delenv("RETENTION_SMS_OPT_OUT_NUMBER", raising=False)

    run, states = _run(senior_outreach)

    assert states["queue_messages"] == "failed"
    alerts = warehouse.rows("SELECT task_id, channel, delivered FROM `{{ ops }}.alerts`")
    assert alerts == [{"task_id": "queue_messages", "channel": "off", "delivered": False}]


def test_a_simulated_clock_with_twilio_fails_at_once_without_retries(senior_outreach, warehouse, monkeypatch):
    """What an operator saw: the refusal of RETENTION_OUTREACH_SIMULATED_NOW with a real transport
    was retried as if Twilio were down. No retry can fix a setting: one try, one alert."""
    from fake_twilio import serve_fake_twilio

    with serve_fake_twilio() as fake:
        monkeypatch.setenv("AIRFLOW_CONN_TWILIO_DEFAULT", fake.airflow_connection())
        monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-123-4567")
        monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", f"{WEEK}T10:00:00+09:00")
        run, states = _run(senior_outreach)
        assert not fake.creates()

    assert str(run.state) == "failed" and states["decide_audience"] == "failed", states
    tries = warehouse.rows("SELECT task_id, state, try_number, error FROM `{{ ops }}.task_runs` WHERE run_id = @r",
                           {"r": run.run_id})
    assert [(t["task_id"], t["state"], t["try_number"]) for t in tries] == [("decide_audience", "failed", 1)]
    assert "a simulated time is only for the local sink" in tries[0]["error"]
    alerts = warehouse.rows("SELECT kind, task_id, try_number, message FROM `{{ ops }}.alerts`")
    assert [(a["kind"], a["task_id"], a["try_number"]) for a in alerts] == [("task_failed", "decide_audience", 1)]
    assert "unset it" in alerts[0]["message"]


def test_a_send_run_that_leaves_messages_waiting_for_their_lease_ends_green_with_a_warning(
    senior_outreach, warehouse, webhook, monkeypatch
):
    """What an operator saw: a timed-out create left a message in `sending`; the retry ended green
    with `in_flight_elsewhere: 1` and nothing in Airflow said it. Now the run is marked: a
    `sending_unconfirmed` alert (sent and in ops.alerts) with the time it will be reconciled, and
    ops.run_audit says success_with_warnings. Real clock; the late message is to a customer with
    night-time consent, so this holds in the quiet hours too."""
    import datetime as dt

    from fake_twilio import serve_fake_twilio
    from outreach_scenario import SEOUL
    from retention.outreach.audience import group

    origin, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_RETENTION_ALERTS", json.dumps({"conn_type": "http", "host": f"{origin}/hook"}))
    now = dt.datetime.now(dt.UTC)
    week = now.astimezone(SEOUL).date() - dt.timedelta(days=now.astimezone(SEOUL).weekday())
    crowd = people(eligible=10)
    publish_week(warehouse, week, crowd)
    late = next(p for p in crowd if p.night_consent and group("senior-digital-literacy", p.customer_id, 0.10) == "message")
    monkeypatch.delenv("RETENTION_OUTREACH_SIMULATED_NOW", raising=False)
    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-123-4567")
    with serve_fake_twilio() as fake:
        for name, value in {"AIRFLOW_CONN_TWILIO_DEFAULT": fake.airflow_connection(),
                            "RETENTION_SMS_TIMEOUT_SECONDS": "1", "RETENTION_SMS_MAX_ATTEMPTS": "2",
                            "RETENTION_SMS_BACKOFF_SECONDS": "0.01", "RETENTION_SMS_RECHECK_DELAY_SECONDS": "0",
                            "RETENTION_SMS_RATE_PER_SECOND": "1000"}.items():
            monkeypatch.setenv(name, value)
        fake.answer_late(3, stored=False, to=late.phone_e164)  # the request never got through
        run = senior_outreach.test(logical_date=pendulum.datetime(week.year, week.month, week.day, 10,
                                                                  tz="Asia/Seoul"))
        instances = {ti.task_id: ti for ti in run.get_task_instances()}
        assert late.phone_e164 in {request.form["To"] for request in fake.creates()}

    assert str(run.state) == "success", {t: str(ti.state) for t, ti in instances.items()}
    assert instances["send_messages"].try_number == 2  # the timeout stopped the first try; the retry was green
    row = warehouse.rows("SELECT state, attempt_started_at FROM `{{ outreach }}.messages` WHERE customer_id = @c",
                         {"c": late.customer_id})[0]
    assert row["state"] == "sending"
    expires = (row["attempt_started_at"] + dt.timedelta(seconds=1800)).astimezone(SEOUL)

    alerts = warehouse.rows("SELECT kind, task_id, try_number, message, channel, delivered FROM `{{ ops }}.alerts` "
                            "WHERE run_id = @r", {"r": run.run_id})
    assert [(a["kind"], a["task_id"], a["try_number"], a["delivered"]) for a in alerts] == [
        ("sending_unconfirmed", "send_messages", 2, True)]
    message = alerts[0]["message"]
    assert "1 SMS of senior-digital-literacy are not confirmed as sent" in message
    assert f"after {expires:%Y-%m-%d %H:%M} KST" in message and "in_flight" not in message
    posts = [post["body"] for post in received.snapshot()]
    assert [(p["kind"], p["task_id"]) for p in posts] == [("sending_unconfirmed", "send_messages")]
    assert "warning: left SMS in sending, waiting for their lease" in posts[0]["text"]

    warehouse.run_file("ops/run_audit/view.sql")
    audit = warehouse.rows("SELECT outcome, warnings, tasks_failed FROM `{{ ops }}.run_audit` WHERE run_id = @r",
                           {"r": run.run_id})
    assert audit == [{"outcome": "success_with_warnings", "warnings": 1, "tasks_failed": 0}]
