"""
### telco_ingest: the weekly customer snapshot, from file to `core.customers`, write-audit-publish

**Reads** the week's customer snapshot and contacts, dated by the Monday (KST) of the run's
week: `telco_customers_<YYYY-MM-DD>.csv` and `contacts_<YYYY-MM-DD>.csv` from the landing
folder or `gs://` prefix named by `RETENTION_TELCO_SNAPSHOT_SOURCE` and
`RETENTION_CONTACTS_SOURCE`. For demos: `bundled` (the IBM file, every week) and
`synthetic` (the generated weekly history; contacts generated for the week's customers).

**Writes**
- `raw.telco_customer_snapshots`: the file as received, text, one partition per week, every
  distinct file kept (`land_snapshot`);
- `ops.validation_runs`, `ops.validation_results`, `ops.quarantine`: the data quality
  decision, every check, the rows held back (`validate_snapshot`, Great Expectations suite
  `include/retention/quality/suites/telco_customers.py`);
- `core.customers`: typed and cleaned, one partition per week, less quarantined rows
  (`publish_customers`), then the Asset `core.customers` that `churn_weekly` is scheduled on.

- `raw.contacts`, `core.contacts` (same three steps, suite `contacts`): phone numbers, SMS
  and night-time consent, opt-outs, home legal dong. `RETENTION_CONTACTS_SOURCE` names the
  folder or bucket of `contacts_<YYYY-MM-DD>.csv`; by default contacts are generated for the
  week's customers (synthetic, numbers that reach no one). A blocked contacts file does not
  stop the customers from publishing, and vice versa.

**Re-running** a week replaces that week's rows in every table (one MERGE each): the same
file gives the same tables; a corrected file replaces `core` and is kept beside the old one
in `raw`.

**When it fails**, the task log says what and where:
- `land_snapshot`, *no snapshot file at ...*: the file has not arrived; it is retried. Drop it
  there and *Clear* the task.
- `land_snapshot`, *empty / not UTF-8 or CP949 / not valid CSV*: fails at once. Replace the
  file and *Clear* the task.
- `validate_snapshot`, *was not published*: fails at once; the log shows a table of every
  check, the message names the check, the observed value and the first offending lines.
  Query `ops.validation_results` and `ops.quarantine` for the file's `load_id`, fix the file,
  *Clear* from `land_snapshot`. Up to 1% of bad rows (`RETENTION_QUALITY_MAX_QUARANTINED_SHARE`)
  are quarantined and the rest published, with a warning.
- `publish_customers`: BigQuery's own message and the SQL file; *Clear* the task once fixed.

In every case `core.customers` keeps the last published weeks untouched.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from retention.assets import CORE_CONTACTS, CORE_CUSTOMERS, WEEK_EXTRA
from retention.operations import task_defaults


@dag(
    schedule="0 4 * * 1",
    start_date=pendulum.datetime(2026, 1, 5, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=task_defaults(owner="data-engineering"),
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
        from retention.ingest.customers import land_snapshot
        from retention.schedule import run_snapshot_date
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            return land_snapshot(Warehouse.connect(), run_snapshot_date(get_current_context())).as_dict()

    @task
    def validate_snapshot(landed: dict) -> dict:
        from retention.ingest.customers import validate_snapshot
        from retention.ingest.landing import LandedFile
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            run_id = get_current_context()["run_id"]
            return validate_snapshot(Warehouse.connect(), LandedFile.from_dict(landed), run_id)

    @task(outlets=[CORE_CUSTOMERS])
    def publish_customers(landed: dict, validation: dict) -> dict:
        import datetime as dt

        from retention.ingest.customers import publish_customers
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            week = dt.date.fromisoformat(landed["snapshot_date"])
            published = publish_customers(Warehouse.connect(), week, landed["load_id"])
        get_current_context()["outlet_events"][CORE_CUSTOMERS].extra = {WEEK_EXTRA: week.isoformat()}
        return published

    # Contacts do not need this week's customers file, except when they are generated for its
    # customers (synthetic): so they run after land_snapshot whatever its outcome.
    @task(trigger_rule="all_done")
    def land_contacts() -> dict:
        from retention.ingest.contacts import land_contacts
        from retention.schedule import run_snapshot_date
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            return land_contacts(Warehouse.connect(), run_snapshot_date(get_current_context())).as_dict()

    @task
    def validate_contacts(landed: dict) -> dict:
        from retention.ingest.contacts import validate_contacts
        from retention.ingest.landing import LandedFile
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            run_id = get_current_context()["run_id"]
            return validate_contacts(Warehouse.connect(), LandedFile.from_dict(landed), run_id)

    @task(outlets=[CORE_CONTACTS])
    def publish_contacts(landed: dict, validation: dict) -> dict:
        import datetime as dt

        from retention.ingest.contacts import publish_contacts
        from retention.task_errors import fail_fast_on_bad_data
        from retention.warehouse import Warehouse

        with fail_fast_on_bad_data():
            week = dt.date.fromisoformat(landed["snapshot_date"])
            published = publish_contacts(Warehouse.connect(role="outreach"), week, landed["load_id"])
        get_current_context()["outlet_events"][CORE_CONTACTS].extra = {WEEK_EXTRA: week.isoformat()}
        return published

    prepared = prepare_warehouse()
    snapshot = land_snapshot()
    contacts = land_contacts()
    prepared >> snapshot >> contacts
    publish_customers(snapshot, validate_snapshot(snapshot))
    publish_contacts(contacts, validate_contacts(contacts))


telco_ingest()
