"""Weekly customer snapshot: land it in `raw.telco_customer_snapshots`, validate it with the
`telco_customers` suite, publish it to `core.customers`."""

from __future__ import annotations

import datetime as dt
import hashlib

from retention.config import BUNDLED_TELCO_SNAPSHOT, LAYERS
from retention.ingest.landing import LandedFile, Source, land_csv, land_file, publish_validated, validate_landed
from retention.quality import records
from retention.sources.csv_files import read_csv_text, weekly_file
from retention.warehouse import Warehouse

CUSTOMERS = Source(
    suite="telco_customers",
    raw_table="telco_customer_snapshots",
    typed_view="telco_customers_typed",
    core_table="customers",
    publish_sql="core/customers/publish.sql",
)
TABLE_DDL = (
    "raw/telco_customer_snapshots/create.sql",
    "raw/telco_customers_typed/create.sql",
    "core/customers/create.sql",
)


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the datasets and every table and view the weekly ingest writes or reads."""
    from retention.ingest.contacts import TABLE_DDL as CONTACTS_DDL

    # Not contact: the outreach's connection creates it, and only it may read it (retention.access).
    warehouse.ensure_datasets([layer for layer in LAYERS if layer != "contact"])
    from retention.operations import OPS_DDL

    for ddl in (*TABLE_DDL, *CONTACTS_DDL, *records.TABLE_DDL, *OPS_DDL):
        warehouse.run_file(ddl, identifiers={"core_table": CUSTOMERS.core_table})
    from retention.migrations import migrate

    migrate(warehouse, applied_by="telco_ingest")  # older tables brought up to this release
    from retention import table_options

    table_options.apply_all(warehouse, ("raw", "core"))


def snapshot_uri(location: str, snapshot_date: dt.date) -> str:
    """`bundled` is the IBM file shipped with the project, used for every week."""
    if location == "bundled":
        return str(BUNDLED_TELCO_SNAPSHOT)
    return weekly_file(location, "telco_customers", snapshot_date)


def land_snapshot(warehouse: Warehouse, snapshot_date: dt.date, source: str | None = None) -> LandedFile:
    """`source`: `bundled`, `synthetic` (the generated weekly history, seed 42), a landing
    folder or a `gs://` prefix (default: RETENTION_TELCO_SNAPSHOT_SOURCE)."""
    location = source or warehouse.settings.telco_snapshot_source
    if location == "synthetic":
        from retention.synthetic.history import SEED, synthetic_snapshot

        text = synthetic_snapshot(snapshot_date)
        uri = f"synthetic://telco_customers/seed-{SEED}/{snapshot_date}"
        csv_file = read_csv_text(text, uri, hashlib.sha256(text.encode()).hexdigest())
        return land_csv(warehouse, CUSTOMERS, csv_file, snapshot_date)
    return land_file(warehouse, CUSTOMERS, snapshot_uri(location, snapshot_date), snapshot_date)


def validate_snapshot(warehouse: Warehouse, landed: LandedFile, dag_run_id: str | None = None) -> dict:
    """The suite compares the file with the last published week: its size, and the share of
    last week's customers it no longer has (those who left)."""
    snapshot_date = dt.date.fromisoformat(landed.snapshot_date)
    # The last published week from the partition list: a filter `= (SELECT MAX(...))` is not pruned.
    last_week = warehouse.latest_partition(warehouse.table_id("core", "customers"),
                                           before=snapshot_date)
    previous = {"customers": 0, "gone": 0} if last_week is None else warehouse.rows(
        "WITH last_week AS ("
        "  SELECT customer_id FROM `{{ core }}.customers` WHERE snapshot_date = @last_week"
        ") "
        "SELECT COUNT(*) AS customers, "
        "  COUNTIF(customer_id NOT IN (SELECT customer_id FROM `{{ raw }}.telco_customers_typed` "
        "    WHERE snapshot_date = @snapshot_date AND load_id = @load_id AND customer_id IS NOT NULL)) AS gone "
        "FROM last_week",
        {"snapshot_date": snapshot_date, "load_id": landed.load_id, "last_week": last_week},
        source="previous week of core.customers",
    )[0]
    customers = int(previous["customers"])
    return validate_landed(
        warehouse, CUSTOMERS, landed, dag_run_id,
        previous_row_count=customers or None,
        previous_gone_share=(int(previous["gone"]) / customers) if customers else None,
    )


def publish_customers(warehouse: Warehouse, snapshot_date: dt.date, load_id: str) -> dict:
    return publish_validated(warehouse, CUSTOMERS, snapshot_date, load_id)
