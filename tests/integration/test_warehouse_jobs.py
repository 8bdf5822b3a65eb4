"""Every job carries the bytes-billed cap and labels naming its DAG, task and layer.

Read from the job objects the real client builds and sends to the emulator (which accepts and
echoes both, and enforces neither: a job over the cap cannot be produced locally, so the
refusal BigQuery returns is replayed through a client that raises it, below).
"""

from __future__ import annotations

import datetime as dt
import pendulum
import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from retention.warehouse import Warehouse, WarehouseError
from retention.warehouse_jobs import DEFAULT_MAXIMUM_BYTES_BILLED

pytestmark = pytest.mark.emulator

WEEK = dt.date(2026, 11, 23)


def test_queries_loads_and_dry_runs_carry_the_cap_and_the_labels(warehouse, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_TASK_ID", raising=False)
    warehouse.run_file("ml/churn_scores/create.sql")
    warehouse.rows("SELECT COUNT(*) AS n FROM `{{ ml }}.churn_scores` WHERE snapshot_date = @d", {"d": WEEK},
                   source="count scores")
    query = warehouse.last_job
    assert query.maximum_bytes_billed == DEFAULT_MAXIMUM_BYTES_BILLED
    assert query.labels == {"dag_id": "none", "task_id": "none", "layer": "ml", "command": "pytest",
                            "platform": "retention"}

    warehouse.load_json_rows(warehouse.table_id("raw", "loaded"), [{"n": 1}], [bigquery.SchemaField("n", "INT64")])
    assert warehouse.last_job.job_type == "load" and warehouse.last_job.labels["layer"] == "raw"

    monkeypatch.setenv("RETENTION_MAXIMUM_BYTES_BILLED", "1000000")
    warehouse.dry_run("SELECT 1 AS x", source="probe")
    assert warehouse.last_job.dry_run and warehouse.last_job.maximum_bytes_billed == 1_000_000


def test_a_sql_files_job_is_labelled_with_the_layer_of_its_folder(warehouse):
    warehouse.run_file("ops/alerts/create.sql")
    assert warehouse.last_job.labels["layer"] == "ops"


def test_a_bad_cap_setting_says_what_to_write(warehouse, monkeypatch):
    monkeypatch.setenv("RETENTION_MAXIMUM_BYTES_BILLED", "50GB")
    with pytest.raises(RuntimeError, match=r"RETENTION_MAXIMUM_BYTES_BILLED='50gb' is not a number of bytes"):
        warehouse.run("SELECT 1")


class _OverCapClient:
    """Stands in for BigQuery only where the emulator cannot: it refuses the job the way BigQuery
    does when `maximum_bytes_billed` is too low (reason `bytesBilledLimitExceeded`)."""

    def __init__(self, real):
        self.real = real

    def query(self, sql, job_config=None):
        raise BadRequest("Query exceeded limit for bytes billed: 1000000. 5368709120 or higher required.",
                         errors=[{"reason": "bytesBilledLimitExceeded", "message": "Query exceeded limit"}])

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_job_over_the_cap_fails_naming_the_statement_and_how_to_raise_the_cap(warehouse, monkeypatch):
    monkeypatch.setenv("RETENTION_MAXIMUM_BYTES_BILLED", "1000000")
    over = Warehouse(_OverCapClient(warehouse.client), warehouse.settings)
    with pytest.raises(WarehouseError) as raised:
        over.run_file("ml/churn_scores/newly_at_risk.sql", {"snapshot_date": WEEK, "previous_week": WEEK})
    message = str(raised.value)
    assert "sql/ml/churn_scores/newly_at_risk.sql would bill more than the cap of 1,000,000 bytes" in message
    assert "at least 5,368,709,120 bytes" in message and "raise RETENTION_MAXIMUM_BYTES_BILLED" in message


def test_jobs_sent_by_an_airflow_task_are_labelled_with_its_dag_and_task(warehouse, airflow_db, monkeypatch):
    """A real run of telco_ingest: every job it sends names the DAG, the task that sent it and the layer."""
    from airflow.dag_processing.dagbag import DagBag

    from retention.config import PROJECT_ROOT

    sent = []
    query = bigquery.Client.query

    def recording(client, sql, job_config=None, **kwargs):  # records, then sends as usual
        sent.append(job_config.labels)
        return query(client, sql, job_config=job_config, **kwargs)

    monkeypatch.setattr(bigquery.Client, "query", recording)
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "telco_ingest.py")).dags["telco_ingest"]
    run = dag.test(logical_date=pendulum.datetime(2026, 11, 23, 4, tz="Asia/Seoul"))
    assert str(run.state) == "success"
    assert {labels["dag_id"] for labels in sent} == {"telco_ingest"}
    assert {labels["command"] for labels in sent} == {"airflow_task"}
    assert {labels["task_id"] for labels in sent} == set(dag.task_ids)
    by_task = {(labels["task_id"], labels["layer"]) for labels in sent}
    assert {("prepare_warehouse", "raw"), ("publish_customers", "core"), ("publish_contacts", "core")} <= by_task
