"""Real Airflow runs of telco_ingest (dag.test) on the local emulator."""

from __future__ import annotations

import datetime as dt
import shutil

import pendulum
import pytest

from retention.config import PROJECT_ROOT, SQL_DIR

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]

LOGICAL_DATE = pendulum.datetime(2026, 11, 23, 4, tz="Asia/Seoul")
WEEK = dt.date(2026, 11, 23)


@pytest.fixture
def telco_ingest(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "telco_ingest.py"))
    return bag.dags["telco_ingest"]


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_two_runs_of_the_same_week_publish_the_bundled_snapshot_once(telco_ingest, warehouse):
    for _ in range(2):
        run = telco_ingest.test(logical_date=LOGICAL_DATE)
        assert str(run.state) == "success", _task_states(run)
    core = warehouse.table_id("core", "customers")
    raw = warehouse.table_id("raw", "telco_customer_snapshots")
    assert warehouse.count_rows(core, "snapshot_date = @w", {"w": WEEK}) == 7043
    assert warehouse.count_rows(raw, "_snapshot_date = @w", {"w": WEEK}) == 7043
    seniors = warehouse.rows(
        "SELECT COUNTIF(senior_citizen) AS seniors, ROUND(AVG(IF(churned, 1, 0)), 3) AS churn "
        "FROM `{{ core }}.customers` WHERE snapshot_date = @w",
        {"w": WEEK},
    )
    assert seniors == [{"seniors": 1142, "churn": 0.265}]

    # The asset events churn_weekly is scheduled on name the week they are about.
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(
            AssetEvent.source_dag_id == "telco_ingest", AssetEvent.source_run_id == run.run_id
        ).all()
        extras = {event.source_task_id: event.extra for event in events}
    assert extras["publish_customers"] == {"snapshot_date": WEEK.isoformat()}
    assert extras["publish_contacts"] == {"snapshot_date": WEEK.isoformat()}


def test_a_broken_sql_file_fails_the_run_and_core_keeps_the_last_good_week(
    telco_ingest, warehouse, tmp_path, monkeypatch
):
    assert str(telco_ingest.test(logical_date=LOGICAL_DATE.subtract(weeks=1)).state) == "success"
    broken_sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, broken_sql)
    publish = broken_sql / "core" / "customers" / "publish.sql"
    publish.write_text(publish.read_text().replace("typed.gender", "typed.gendr"))
    monkeypatch.setattr("retention.warehouse.SQL_DIR", broken_sql)

    run = telco_ingest.test(logical_date=LOGICAL_DATE)

    states = _task_states(run)
    assert str(run.state) == "failed", states
    assert states["land_snapshot"] == "success" and states["publish_customers"] == "failed"
    counts = warehouse.rows("SELECT snapshot_date AS w, COUNT(*) AS n FROM `{{ core }}.customers` GROUP BY w")
    assert counts == [{"w": WEEK - dt.timedelta(weeks=1), "n": 7043}]


def test_a_file_that_fails_a_blocking_check_stops_the_run_without_retries(telco_ingest, warehouse, tmp_path, monkeypatch):
    import csv

    from retention.config import BUNDLED_TELCO_SNAPSHOT

    assert str(telco_ingest.test(logical_date=LOGICAL_DATE.subtract(weeks=1)).state) == "success"
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    with (tmp_path / f"telco_customers_{WEEK}.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows[:1] + rows[1::10])  # ten times smaller than last week
    monkeypatch.setenv("RETENTION_TELCO_SNAPSHOT_SOURCE", str(tmp_path))

    run = telco_ingest.test(logical_date=LOGICAL_DATE)

    instances = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert str(instances["validate_snapshot"].state) == "failed"
    assert instances["validate_snapshot"].try_number == 1, "bad data must not be retried"
    assert str(instances["publish_customers"].state) == "upstream_failed"
    counts = warehouse.rows("SELECT snapshot_date AS w, COUNT(*) AS n FROM `{{ core }}.customers` GROUP BY w")
    assert counts == [{"w": WEEK - dt.timedelta(weeks=1), "n": 7043}]
    decision = warehouse.rows("SELECT decision, rows_received FROM `{{ ops }}.validation_runs` "
        "WHERE snapshot_date = @w AND suite = 'telco_customers'",
                              {"w": WEEK})
    assert decision == [{"decision": "block", "rows_received": 705}]
