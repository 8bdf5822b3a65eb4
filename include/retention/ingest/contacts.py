"""Weekly contacts: land the file in `raw.contacts`, validate it with the `contacts` suite,
publish it to `core.contacts`, its phone numbers to `contact.phone_numbers` (core.contacts
holds their keys only).

`RETENTION_CONTACTS_SOURCE` names a landing folder or `gs://` prefix holding
`contacts_<YYYY-MM-DD>.csv`, or `synthetic` (the default): contacts generated for the
customers of the week's snapshot, with numbers that reach no one (see README)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from retention.ingest.landing import LandedFile, Source, land_csv, land_file, publish_validated, validate_landed
from retention.sources.csv_files import SourceFileMissing, read_csv_text, weekly_file
from retention.warehouse import Warehouse

CONTACTS = Source(
    suite="contacts",
    raw_table="contacts",
    typed_view="contacts_typed",
    core_table="contacts",
    publish_sql="core/contacts/publish.sql",
    prepare_sql=("contact/phone_numbers/add.sql",),
)
TABLE_DDL = ("raw/contacts/create.sql", "raw/contacts_typed/create.sql", "core/contacts/create.sql")


def contacts_source() -> str:
    return os.environ.get("RETENTION_CONTACTS_SOURCE", "synthetic")


def land_contacts(warehouse: Warehouse, snapshot_date: dt.date, source: str | None = None) -> LandedFile:
    location = source or contacts_source()
    if location != "synthetic":
        return land_file(warehouse, CONTACTS, weekly_file(location, "contacts", snapshot_date), snapshot_date)
    from retention.synthetic.contacts import contacts_file
    from retention.synthetic.history import SEED

    # Generated for the customers of the week's most recently landed snapshot file.
    customer_ids = [
        row["customer_id"]
        for row in warehouse.rows(
            "SELECT DISTINCT customer_id FROM `{{ raw }}.telco_customers_typed` "
            "WHERE snapshot_date = @snapshot_date AND customer_id IS NOT NULL AND load_id = ("
            "  SELECT ARRAY_AGG(_load_id ORDER BY _loaded_at DESC LIMIT 1)[OFFSET(0)] "
            "  FROM `{{ raw }}.telco_customer_snapshots` WHERE _snapshot_date = @snapshot_date) "
            "ORDER BY customer_id",
            {"snapshot_date": snapshot_date},
        )
    ]
    if not customer_ids:
        raise SourceFileMissing(
            f"no customers landed for {snapshot_date}: synthetic contacts are generated for the week's customers; "
            "land the snapshot first"
        )
    text = contacts_file(customer_ids, SEED, snapshot_date)
    uri = f"synthetic://contacts/seed-{SEED}/{snapshot_date}"
    return land_csv(warehouse, CONTACTS, read_csv_text(text, uri, hashlib.sha256(text.encode()).hexdigest()),
                    snapshot_date)


def validate_contacts(warehouse: Warehouse, landed: LandedFile, dag_run_id: str | None = None) -> dict:
    snapshot_date = dt.date.fromisoformat(landed.snapshot_date)
    # The last published week from the partition list: a filter `= (SELECT MAX(...))` is not pruned.
    contacts = warehouse.table_id("core", "contacts")
    last_week = warehouse.latest_partition(contacts, before=snapshot_date)
    previous = 0 if last_week is None else warehouse.count_rows(contacts, "snapshot_date = @w", {"w": last_week})
    return validate_landed(warehouse, CONTACTS, landed, dag_run_id, previous_row_count=int(previous) or None)


def publish_contacts(warehouse: Warehouse, snapshot_date: dt.date, load_id: str) -> dict:
    """Publish the week (its numbers to contact.phone_numbers first). `warehouse` connects as the
    outreach (`Warehouse.connect(role="outreach")`): only it may read or write phone numbers."""
    ensure_phone_numbers(warehouse)
    return publish_validated(warehouse, CONTACTS, snapshot_date, load_id)


def ensure_phone_numbers(warehouse: Warehouse) -> None:
    """The contact dataset and its table, created by the outreach's connection, not the
    pipeline's: whoever creates a dataset owns it (README, "Deployment": the grants by role)."""
    warehouse.ensure_datasets(["contact"])
    warehouse.run_file("contact/phone_numbers/create.sql")



