"""Write-audit-publish for any weekly CSV source: land as received, validate, publish.

A source is described by a `Source`: its raw table (text columns named after the file's
header in snake_case, plus `_`-prefixed load columns), the view that types it, its quality
suite and the SQL that publishes it. Every step is idempotent for a snapshot date: landing
replaces the rows of the same file (same bytes, same load id), validation replaces its
results for that file, publishing replaces the week's partition, each in one MERGE.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from retention.quality import records
from retention.quality.gates import DataQualityError, SuiteContext, Thresholds, summary_table, validate
from retention.quality.suites import get_suite
from retention.sources.csv_files import CsvFile, read_csv_file, snake_case
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    suite: str
    raw_table: str
    typed_view: str
    core_table: str
    publish_sql: str


@dataclass(frozen=True)
class LandedFile:
    snapshot_date: str
    load_id: str
    source_uri: str
    rows: int
    unexpected_columns: list[str]
    missing_columns: list[str]
    encoding: str = "utf-8"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LandedFile:
        return cls(**data)


def land_file(warehouse: Warehouse, source: Source, uri: str, snapshot_date: dt.date) -> LandedFile:
    """Read a file and store it, as text, in the source's raw table."""
    return land_csv(warehouse, source, read_csv_file(uri), snapshot_date)


def land_csv(warehouse: Warehouse, source: Source, csv_file: CsvFile, snapshot_date: dt.date) -> LandedFile:
    uri = csv_file.source_uri
    raw_table = warehouse.table_id("raw", source.raw_table)
    contract = [c for c in warehouse.column_names(raw_table) if not c.startswith("_")]
    rows, unexpected = raw_rows(csv_file, contract, snapshot_date, dt.datetime.now(dt.UTC))
    warehouse.replace_rows(raw_table, rows, {"_snapshot_date": snapshot_date, "_load_id": csv_file.load_id})
    landed = LandedFile(
        snapshot_date=snapshot_date.isoformat(),
        load_id=csv_file.load_id,
        source_uri=uri,
        rows=len(rows),
        unexpected_columns=unexpected,
        missing_columns=sorted(set(contract) - {snake_case(h) for h in csv_file.header}),
        encoding=csv_file.encoding,
    )
    log.info("landed %s rows of %s for %s as load %s", landed.rows, uri, snapshot_date, landed.load_id)
    if unexpected:
        log.warning("columns the contract does not know, kept in _unexpected_columns: %s", unexpected)
    if landed.missing_columns:
        log.warning("contract columns absent from %s: %s", uri, landed.missing_columns)
    return landed


def raw_rows(
    csv_file: CsvFile, contract: list[str], snapshot_date: dt.date, loaded_at: dt.datetime
) -> tuple[list[dict], list[str]]:
    names = [snake_case(h) for h in csv_file.header]
    known = set(contract)
    unexpected = [h for h, n in zip(csv_file.header, names, strict=True) if n not in known]
    rows = []
    line_numbers = csv_file.line_numbers or [index + 2 for index in range(len(csv_file.rows))]
    for values, line in zip(csv_file.rows, line_numbers, strict=True):
        row: dict = {"_snapshot_date": snapshot_date, "_load_id": csv_file.load_id, "_source_uri": csv_file.source_uri,
                     "_source_row": line, "_loaded_at": loaded_at}
        extras = {}
        for header, name, value in zip(csv_file.header, names, values, strict=False):
            if name in known:
                row[name] = value
            else:
                extras[header] = value
        if len(values) > len(names):
            extras["(beyond the header)"] = values[len(names):]
        row["_unexpected_columns"] = json.dumps(extras, ensure_ascii=False) if extras else None
        row["_file_error"] = (
            f"line {line} has {len(values)} fields, the header has {len(names)} (truncated or shifted line)"
            if len(values) != len(names)
            else None
        )
        rows.append(row)
    return rows, unexpected


def validate_landed(
    warehouse: Warehouse, source: Source, landed: LandedFile, dag_run_id: str | None = None, **context: object
) -> dict:
    """Check the landed file's typed rows; keep results and quarantined rows in `ops`.

    Raises DataQualityError, after recording everything, when the file must not be published."""
    snapshot_date = dt.date.fromisoformat(landed.snapshot_date)
    frame = warehouse.dataframe(
        f"SELECT * FROM `{{{{ raw }}}}.{source.typed_view}` WHERE snapshot_date = @snapshot_date AND load_id = @load_id",
        {"snapshot_date": snapshot_date, "load_id": landed.load_id},
        source=f"raw.{source.typed_view}",
    )
    suite_context = SuiteContext(
        thresholds=Thresholds.from_env(),
        snapshot_date=snapshot_date,
        missing_columns=tuple(landed.missing_columns),
        unexpected_columns=tuple(landed.unexpected_columns),
        encoding=landed.encoding,
        **context,
    )
    suite = get_suite(source.suite)
    report = validate(frame, suite, suite_context, source=landed.source_uri)
    records.record(
        warehouse, report, frame, snapshot_date=snapshot_date, load_id=landed.load_id,
        source_uri=landed.source_uri, dag_run_id=dag_run_id, personal_columns=suite.personal_columns,
    )
    log.info("data quality of %s for %s:\n%s", landed.source_uri, snapshot_date, summary_table(report))
    if report.decision == "block":
        raise DataQualityError(report.message)
    if report.decision == "publish_with_warnings":
        log.warning(report.message)
    return {"decision": report.decision, "rows_quarantined": report.rows_quarantined, "message": report.message}


def publish_validated(warehouse: Warehouse, source: Source, snapshot_date: dt.date, load_id: str) -> dict:
    """Replace the week in the core table with the validated file's rows, less quarantined ones."""
    decision = records.decision_for(warehouse, source.suite, snapshot_date, load_id)
    if decision not in ("publish", "publish_with_warnings"):
        raise DataQualityError(
            f"load {load_id} for {snapshot_date} is not cleared for publishing (validation: {decision or 'never ran'}); "
            "run the validation first, and fix the file if it blocked"
        )
    warehouse.run_file(
        source.publish_sql,
        {"snapshot_date": snapshot_date, "load_id": load_id, "published_at": dt.datetime.now(dt.UTC)},
        identifiers={"core_table": source.core_table},
    )
    published = warehouse.count_rows(
        warehouse.table_id("core", source.core_table), "snapshot_date = @d", {"d": snapshot_date}
    )
    log.info("published %s rows to core.%s for %s from load %s", published, source.core_table, snapshot_date, load_id)
    return {"snapshot_date": snapshot_date.isoformat(), "load_id": load_id, "rows": published}
