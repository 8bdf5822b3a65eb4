"""Weekly customer snapshot, write-audit-publish: land the file as received in `raw`,
validate its typed rows, publish the good ones to `core`.

Every step is idempotent for a snapshot date: landing replaces the rows of the same file
(same bytes, same load id), validation replaces its results for that file, publishing
replaces the week's partition, each in one MERGE.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from retention.quality import records
from retention.quality.gates import DataQualityError, SuiteContext, Thresholds, summary_table, validate
from retention.quality.suites import get_suite
from retention.sources.telco_snapshots import Snapshot, locate_snapshot, read_snapshot, snake_case
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

RAW_TABLE = "telco_customer_snapshots"
CORE_TABLE = "customers"
SUITE = "telco_customers"
_TABLE_DDL = (
    "raw/telco_customer_snapshots/create.sql",
    "raw/telco_customers_typed/create.sql",
    "core/customers/create.sql",
    *records.TABLE_DDL,
)


@dataclass(frozen=True)
class LandedSnapshot:
    snapshot_date: str
    load_id: str
    source_uri: str
    rows: int
    unexpected_columns: list[str]
    missing_columns: list[str]
    encoding: str = "utf-8"


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
    contract = [c for c in warehouse.column_names(raw_table) if not c.startswith("_")]
    rows, unexpected = _raw_rows(snapshot, contract, snapshot_date, dt.datetime.now(dt.UTC))
    missing = sorted(set(contract) - {snake_case(h) for h in snapshot.header})

    warehouse.replace_rows(raw_table, rows, {"_snapshot_date": snapshot_date, "_load_id": snapshot.load_id})
    landed = LandedSnapshot(
        snapshot_date=snapshot_date.isoformat(),
        load_id=snapshot.load_id,
        source_uri=uri,
        rows=len(rows),
        unexpected_columns=unexpected,
        missing_columns=missing,
        encoding=snapshot.encoding,
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
        if len(values) > len(names):
            extras["(beyond the header)"] = values[len(names):]
        row["_unexpected_columns"] = json.dumps(extras, ensure_ascii=False) if extras else None
        row["_file_error"] = (
            f"line {index + 2} has {len(values)} fields, the header has {len(names)} (truncated or shifted line)"
            if len(values) != len(names)
            else None
        )
        rows.append(row)
    return rows, unexpected


def validate_snapshot(warehouse: Warehouse, landed: LandedSnapshot, dag_run_id: str | None = None) -> dict:
    """Check the landed file's typed rows; keep results and quarantined rows in `ops`.

    Raises DataQualityError, after recording everything, when the file must not be published."""
    snapshot_date = dt.date.fromisoformat(landed.snapshot_date)
    frame = warehouse.dataframe(
        "SELECT * FROM `{{ raw }}.telco_customers_typed` WHERE snapshot_date = @snapshot_date AND load_id = @load_id",
        {"snapshot_date": snapshot_date, "load_id": landed.load_id},
        source="raw.telco_customers_typed",
    )
    context = SuiteContext(
        thresholds=Thresholds.from_env(),
        previous_row_count=_previous_published_count(warehouse, snapshot_date),
        missing_columns=tuple(landed.missing_columns),
        unexpected_columns=tuple(landed.unexpected_columns),
        encoding=landed.encoding,
    )
    report = validate(frame, get_suite(SUITE), context, source=landed.source_uri)
    records.record(
        warehouse, report, frame, snapshot_date=snapshot_date, load_id=landed.load_id,
        source_uri=landed.source_uri, dag_run_id=dag_run_id,
    )
    log.info("data quality of %s for %s:\n%s", landed.source_uri, snapshot_date, summary_table(report))
    if report.decision == "block":
        raise DataQualityError(report.message)
    if report.decision == "publish_with_warnings":
        log.warning(report.message)
    return {"decision": report.decision, "rows_quarantined": report.rows_quarantined, "message": report.message}


def _previous_published_count(warehouse: Warehouse, snapshot_date: dt.date) -> int | None:
    rows = warehouse.rows(
        "SELECT COUNT(*) AS n FROM `{{ core }}.customers` WHERE snapshot_date = "
        "(SELECT MAX(snapshot_date) FROM `{{ core }}.customers` WHERE snapshot_date < @snapshot_date)",
        {"snapshot_date": snapshot_date},
    )
    return int(rows[0]["n"]) or None


def publish_customers(warehouse: Warehouse, snapshot_date: dt.date, load_id: str) -> dict:
    """Replace the week in `core.customers` with the validated file's rows, less quarantined ones."""
    decision = records.decision_for(warehouse, SUITE, snapshot_date, load_id)
    if decision not in ("publish", "publish_with_warnings"):
        raise DataQualityError(
            f"load {load_id} for {snapshot_date} is not cleared for publishing (validation: {decision or 'never ran'}); "
            "run validate_snapshot first, and fix the file if it blocked"
        )
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


def landed_from_dict(data: dict) -> LandedSnapshot:
    return LandedSnapshot(**data)
