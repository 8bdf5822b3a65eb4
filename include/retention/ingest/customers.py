"""Weekly customer snapshot: land the file as received in `raw`, publish it typed to `core`.

Both steps are idempotent for a snapshot date: landing replaces the rows of the same file
(same bytes, same load id) and publishing replaces the week's partition, each in one MERGE.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from retention.sources.telco_snapshots import Snapshot, locate_snapshot, read_snapshot, snake_case
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

RAW_TABLE = "telco_customer_snapshots"
CORE_TABLE = "customers"
_TABLE_DDL = ("raw/telco_customer_snapshots/create.sql", "core/customers/create.sql")


@dataclass(frozen=True)
class LandedSnapshot:
    snapshot_date: str
    load_id: str
    source_uri: str
    rows: int
    unexpected_columns: list[str]
    missing_columns: list[str]


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the datasets and the tables this DAG writes, if they do not exist yet."""
    warehouse.ensure_datasets()
    for ddl in _TABLE_DDL:
        warehouse.run_file(ddl)


def land_snapshot(warehouse: Warehouse, snapshot_date: dt.date, source: str | None = None) -> LandedSnapshot:
    """Read the week's file and store it, as text, in `raw.telco_customer_snapshots`."""
    uri = locate_snapshot(source or warehouse.settings.telco_snapshot_source, snapshot_date)
    snapshot = read_snapshot(uri)
    raw_table = warehouse.table_id("raw", RAW_TABLE)
    raw_columns = warehouse.column_names(raw_table)
    contract = [c for c in raw_columns if not c.startswith("_")]
    rows, unexpected = _raw_rows(snapshot, contract, snapshot_date, dt.datetime.now(dt.UTC))
    missing = sorted(set(contract) - {snake_case(h) for h in snapshot.header})

    staging = f"_staging_{RAW_TABLE}_{snapshot_date:%Y%m%d}_{snapshot.load_id}"
    staging_id = warehouse.table_id("raw", staging)
    schema = warehouse.client.get_table(raw_table).schema
    try:
        warehouse.load_json_rows(staging_id, rows, schema)
        warehouse.run_file(
            "raw/telco_customer_snapshots/land.sql",
            {"snapshot_date": snapshot_date, "load_id": snapshot.load_id},
            identifiers={
                "staging_table": staging,
                "columns": raw_columns,
                "staged_columns": [f"staged.{c}" for c in raw_columns],
            },
        )
    finally:
        warehouse.drop_table(staging_id)
    landed = LandedSnapshot(
        snapshot_date=snapshot_date.isoformat(),
        load_id=snapshot.load_id,
        source_uri=uri,
        rows=len(rows),
        unexpected_columns=unexpected,
        missing_columns=missing,
    )
    log.info("landed %s rows of %s for %s as load %s", landed.rows, uri, snapshot_date, snapshot.load_id)
    if unexpected:
        log.warning("columns the contract does not know, kept in _unexpected_columns: %s", unexpected)
    if missing:
        log.warning("contract columns absent from %s: %s", uri, missing)
    return landed


def _raw_rows(
    snapshot: Snapshot, contract: list[str], snapshot_date: dt.date, loaded_at: dt.datetime
) -> tuple[list[dict], list[str]]:
    names = [snake_case(h) for h in snapshot.header]
    known = set(contract)
    unexpected = [h for h, n in zip(snapshot.header, names, strict=True) if n not in known]
    rows = []
    for index, values in enumerate(snapshot.rows):
        row: dict = {"_snapshot_date": snapshot_date, "_load_id": snapshot.load_id, "_source_uri": snapshot.source_uri,
                     "_source_row": index + 2, "_loaded_at": loaded_at}
        extras = {}
        for header, name, value in zip(snapshot.header, names, values, strict=False):
            if name in known:
                row[name] = value
            else:
                extras[header] = value
        row["_unexpected_columns"] = json.dumps(extras, ensure_ascii=False) if extras else None
        rows.append(row)
    return rows, unexpected


def publish_customers(warehouse: Warehouse, snapshot_date: dt.date, load_id: str) -> dict:
    """Type and clean the landed file and replace the week in `core.customers`."""
    warehouse.run_file(
        "core/customers/publish.sql",
        {"snapshot_date": snapshot_date, "load_id": load_id, "published_at": dt.datetime.now(dt.UTC)},
    )
    published = warehouse.count_rows(
        warehouse.table_id("core", CORE_TABLE), "snapshot_date = @d", {"d": snapshot_date}
    )
    log.info("published %s customers for %s from load %s", published, snapshot_date, load_id)
    return {"snapshot_date": snapshot_date.isoformat(), "load_id": load_id, "customers": published}


def landed_as_dict(landed: LandedSnapshot) -> dict:
    return asdict(landed)
