"""
### telco_ingest: the weekly customer snapshot, from file to `core.customers`

**Reads** the week's customer snapshot: by default the IBM Telco file bundled with the project
(`include/data/telco/`); with `RETENTION_TELCO_SNAPSHOT_SOURCE` set, the file
`telco_customers_<YYYY-MM-DD>.csv` from that landing folder or `gs://` prefix, dated by the
Monday (KST) of the run's week.

**Writes** `raw.telco_customer_snapshots` (the file as received, text, one partition per
week, every distinct file kept) and `core.customers` (typed and cleaned, one partition per
week), then updates the Asset `core.customers` that `churn_weekly` is scheduled on.

**Re-running** a week replaces that week's rows in both tables (one MERGE each): the same
file gives the same tables, a corrected file replaces `core` and is kept beside the old one
in `raw`.

**When it fails**: the task log names the file, the SQL file and BigQuery's own message.
Fix the file or the SQL, then *Clear* the failed task; `core.customers` keeps the last
published weeks untouched until a publish succeeds.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from retention.assets import CORE_CUSTOMERS

RETRY_DELAY = timedelta(seconds=int(os.environ.get("RETENTION_RETRY_DELAY_SECONDS", "300")))


@dag(
    schedule="0 4 * * 1",
    start_date=pendulum.datetime(2026, 1, 5, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args={"owner": "data-engineering", "retries": 2, "retry_delay": RETRY_DELAY},
    tags=["ingest", "customers", "weekly"],
)
def telco_ingest():
    @task
    def prepare_warehouse() -> None:
        from retention.ingest.customers import ensure_tables
        from retention.warehouse import Warehouse

        ensure_tables(Warehouse.connect())

    @task
    def land_snapshot() -> dict:
        from retention.ingest.customers import land_snapshot, landed_as_dict
        from retention.schedule import run_snapshot_date
        from retention.warehouse import Warehouse

        return landed_as_dict(land_snapshot(Warehouse.connect(), run_snapshot_date(get_current_context())))

    @task(outlets=[CORE_CUSTOMERS])
    def publish_customers(landed: dict) -> dict:
        import datetime as dt

        from retention.ingest.customers import publish_customers
        from retention.warehouse import Warehouse

        snapshot_date = dt.date.fromisoformat(landed["snapshot_date"])
        return publish_customers(Warehouse.connect(), snapshot_date, landed["load_id"])

    landed = land_snapshot()
    prepare_warehouse() >> landed
    publish_customers(landed)


telco_ingest()
