"""Operations rules that need no warehouse: the SMS deadline's time, the webhook's URL, the
row counts read from task results, and the callbacks every DAG task carries."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from retention.operations import POOLS, task_defaults
from retention.operations.alerts import Alert, webhook_url
from retention.operations.callbacks import ROW_COUNTS, task_failed, task_retried, task_succeeded
from retention.operations.deadlines import send_by

SEOUL = dt.timezone(dt.timedelta(hours=9))


def test_the_weekly_sms_is_due_at_noon_seoul_on_the_day_this_weeks_scores_triggered_the_run():
    queued = dt.datetime(2026, 11, 23, 5, 30, tzinfo=SEOUL)  # Monday
    assert send_by("asset_triggered", queued, "2026-11-23") == dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    late = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)  # 08:30 KST on Tuesday the 24th: still this week
    assert send_by("asset_triggered", late, "2026-11-23") == dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
    assert send_by("asset_triggered", queued, "2026-10-05") is None  # a backfilled week replayed today
    assert send_by("asset_triggered", queued, None) is None
    for other in ("scheduled", "manual", "backfill"):
        assert send_by(other, queued, "2026-11-23") is None  # the hourly runs and manual runs have no deadline


@pytest.mark.parametrize(("host", "schema", "port", "url"), [
    ("hooks.example.com/on-call", None, None, "https://hooks.example.com/on-call"),
    ("http://127.0.0.1/hook", None, 8099, "http://127.0.0.1:8099/hook"),
    ("https://hooks.example.com:444/x", None, 8099, "https://hooks.example.com:444/x"),
    ("alerts.internal/x", "http", None, "http://alerts.internal/x"),
])
def test_the_webhook_url_comes_from_the_connection(host, schema, port, url):
    assert webhook_url(SimpleNamespace(host=host, schema=schema, port=port)) == url


def test_an_alert_id_is_the_same_for_the_same_failure_and_differs_per_try():
    first = Alert("task_failed", "telco_ingest", "run-1", "land_snapshot", 3, "boom")
    assert first.alert_id != Alert("task_failed", "telco_ingest", "run-1", "land_snapshot", 3, "boom", 2).alert_id
    assert first.alert_id == Alert("task_failed", "telco_ingest", "run-1", "land_snapshot", 3, "other").alert_id
    assert first.alert_id != Alert("task_failed", "telco_ingest", "run-1", "land_snapshot", 4, "boom").alert_id
    assert first.subject == "[retention] telco_ingest.land_snapshot failed (run-1)"


def test_row_counts_are_read_from_the_results_tasks_already_return():
    assert ROW_COUNTS["telco_ingest.land_snapshot"]({"rows": 7043, "load_id": "x"}) == (7043, 7043)
    assert ROW_COUNTS["churn_weekly.build_features"]({"weeks": ["a", "b"], "rows": {"a": 10, "b": 5}}) == (None, 15)
    assert ROW_COUNTS["churn_weekly.score_customers"]([{"rows": 3}, {"rows": 4}]) == (7, 7)
    assert ROW_COUNTS["senior_outreach.send_messages"]({"transport": "twilio"}) == (None, None)  # nothing sent


def test_every_task_default_carries_the_callbacks_and_two_retries():
    defaults = task_defaults(owner="data-engineering")
    assert defaults["retries"] == 2 and defaults["owner"] == "data-engineering"
    assert (defaults["on_success_callback"], defaults["on_retry_callback"], defaults["on_failure_callback"]) == (
        task_succeeded, task_retried, task_failed)
    assert POOLS["places_scraping"][0] == 1 and POOLS["sms_sending"][0] == 1
