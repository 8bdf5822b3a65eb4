"""Real Airflow runs of consent_notices (dag.test) on the emulator, local sink, simulated clock:
an anniversary and an opt-out give one notice each, a re-run the same day sends nothing more,
a run at night sends nothing, and an unanswered request becomes an ops alert at day 10."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest
from outreach_scenario import OPT_OUT_NUMBER, WEEK, Person, create_tables, publish_week, with_changes
from retention.config import PROJECT_ROOT
from retention.outreach.message import AD_MARK

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]


@pytest.fixture
def consent_notices(airflow_db, warehouse, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RETENTION_SMS_OPT_OUT_NUMBER", OPT_OUT_NUMBER)
    monkeypatch.setenv("RETENTION_SMS_SINK_PATH", str(tmp_path / "sms.jsonl"))
    monkeypatch.delenv("AIRFLOW_CONN_TWILIO_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SOLAPI_DEFAULT", raising=False)
    create_tables(warehouse)
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "consent_notices.py")).dags["consent_notices"]


def run(dag, monkeypatch, moment: str):
    monkeypatch.setenv("RETENTION_OUTREACH_SIMULATED_NOW", moment)
    day = dt.datetime.fromisoformat(moment)
    result = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, 10, tz="Asia/Seoul"))
    states = {ti.task_id: str(ti.state) for ti in result.get_task_instances()}
    assert str(result.state) == "success", states
    return {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in result.get_task_instances()}


def test_a_daily_run_sends_each_notice_once_never_at_night_and_raises_an_alert_at_day_ten(
        consent_notices, warehouse, monkeypatch, tmp_path):
    crowd = [Person("R-SOON", 1, consent_days_before=700), Person("O-080", 2), Person("O-LATE", 3)]
    publish_week(warehouse, WEEK, crowd)
    next_week = WEEK + dt.timedelta(weeks=1)
    publish_week(warehouse, next_week, with_changes(crowd, **{
        "R-SOON": {"consent_days_before": 707}, "O-080": {"opted_out": True}}))

    night = run(consent_notices, monkeypatch, f"{next_week}T22:30:00+09:00")
    assert night["queue_notices"]["queued"] == 2 and not night["send_notices"].get("sent")
    run(consent_notices, monkeypatch, f"{next_week + dt.timedelta(days=1)}T10:00:00+09:00")
    run(consent_notices, monkeypatch, f"{next_week + dt.timedelta(days=1)}T10:00:00+09:00")  # a re-run
    sent = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(line["to"] for line in sent) == sorted([crowd[0].phone_e164, crowd[1].phone_e164])
    assert all(AD_MARK not in line["body"] and line["body"].startswith("[KT] ") for line in sent)

    # O-LATE opts out in the third week; its notice cannot go (no send before day 10 here: the
    # queued row is made to wait), so the run of day 10 raises consent_notice_overdue.
    third = WEEK + dt.timedelta(weeks=2)
    publish_week(warehouse, third, with_changes(crowd, **{
        "R-SOON": {"consent_days_before": 714}, "O-080": {"opted_out": True}, "O-LATE": {"opted_out": True}}))
    run(consent_notices, monkeypatch, f"{third}T22:00:00+09:00")  # queued at night
    warehouse.run("UPDATE `{{ outreach }}.messages` SET not_before = TIMESTAMP '2027-01-01 00:00:00+00' "
                  "WHERE customer_id = 'O-LATE'")
    result = run(consent_notices, monkeypatch, f"{third + dt.timedelta(days=10)}T10:00:00+09:00")
    assert result["warn_overdue_notices"] == {"overdue": True, "consent_notices": 15}  # the mart's columns
    # The mart was refreshed by the run, as of the run's day (the injected clock), not the real one.
    mart = warehouse.rows("SELECT customer_id, days_left, alert FROM `{{ marts }}.consent_notices` WHERE unanswered")
    assert [(row["customer_id"], row["alert"]) for row in mart] == [("O-LATE", True)], mart
    alerts = warehouse.rows("SELECT message FROM `{{ ops }}.alerts` WHERE kind = 'consent_notice_overdue'")
    assert len(alerts) == 1 and "1 opt_out" in alerts[0]["message"], alerts
