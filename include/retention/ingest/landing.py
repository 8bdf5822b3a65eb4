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
import os
from dataclasses import asdict, dataclass

from retention.quality import records
from retention.ingest.typed_copy import TypedCopy
from retention.quality.chunked import unique_columns, validate_chunks
from retention.quality.gates import DataQualityError, SuiteContext, Thresholds, summary_table
from retention.quality.suites import get_suite
from retention.ingest.spool import spool
from retention.sources.csv_files import CsvFile, snake_case
from retention.sources.csv_stream import CsvStream, RowChunk, from_csv_file, open_csv
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Source:
    suite: str
    raw_table: str
    typed_view: str
    core_table: str
    publish_sql: str
    prepare_sql: tuple[str, ...] = ()
    """Run before `publish_sql`, once the file is cleared, with the same parameters (contacts:
    give each phone number its key in contact.phone_numbers)."""


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


def chunk_rows() -> int:
    """Rows per chunk when landing and validating (RETENTION_INGEST_CHUNK_ROWS): memory grows
    with it, never with the file."""
    return int(os.environ.get("RETENTION_INGEST_CHUNK_ROWS", DEFAULT_CHUNK_ROWS))


def land_file(warehouse: Warehouse, source: Source, uri: str, snapshot_date: dt.date) -> LandedFile:
    """Read a file, chunk by chunk, and store it, as text, in the source's raw table."""
    return land_stream(warehouse, source, open_csv(uri), snapshot_date)


def land_csv(warehouse: Warehouse, source: Source, csv_file: CsvFile, snapshot_date: dt.date) -> LandedFile:
    """A file already read into memory (generated demo data)."""
    return land_stream(warehouse, source, from_csv_file(csv_file), snapshot_date)


def land_stream(warehouse: Warehouse, source: Source, stream: CsvStream, snapshot_date: dt.date) -> LandedFile:
    uri = stream.source_uri
    raw_table = warehouse.table_id("raw", source.raw_table)
    contract = [c for c in warehouse.column_names(raw_table) if not c.startswith("_")]
    layout = RawLayout(stream.header, contract)
    loaded_at = dt.datetime.now(dt.UTC)
    with spool(warehouse, raw_table) as rows:
        for chunk in stream.chunks(chunk_rows()):
            rows.write(layout.columns(chunk, snapshot_date=snapshot_date, load_id=stream.load_id, source_uri=uri,
                                      loaded_at=loaded_at))
        rows.replace({"_snapshot_date": snapshot_date, "_load_id": stream.load_id})
    landed = LandedFile(
        snapshot_date=snapshot_date.isoformat(),
        load_id=stream.load_id,
        source_uri=uri,
        rows=rows.rows,
        unexpected_columns=layout.unexpected,
        missing_columns=sorted(set(contract) - set(layout.names)),
        encoding=stream.encoding,
    )
    log.info("landed %s rows of %s for %s as load %s", landed.rows, uri, snapshot_date, landed.load_id)
    if layout.unexpected:
        log.warning("columns the contract does not know, kept in _unexpected_columns: %s", layout.unexpected)
    if landed.missing_columns:
        log.warning("contract columns absent from %s: %s", uri, landed.missing_columns)
    return landed


class RawLayout:
    """How a file's columns map onto its raw table: contract columns by their snake_case name,
    the others kept as JSON in `_unexpected_columns`."""

    def __init__(self, header: list[str], contract: list[str]) -> None:
        self.header = header
        self.names = [snake_case(h) for h in header]
        known = set(contract)
        self.unexpected = [h for h, n in zip(header, self.names, strict=True) if n not in known]
        self._kept = [(i, n) for i, n in enumerate(self.names) if n in known]
        self._extra = [(i, h) for i, (h, n) in enumerate(zip(header, self.names, strict=True)) if n not in known]

    def columns(self, chunk: RowChunk, *, snapshot_date: dt.date, load_id: str, source_uri: str,
                loaded_at: dt.datetime) -> dict[str, list]:
        """One chunk of rows as columns of text, plus the load columns."""
        width = len(self.names)
        rows = chunk.rows
        misfits = [i for i, values in enumerate(rows) if len(values) != width]
        extras: list[str | None] = [None] * len(rows)
        errors: list[str | None] = [None] * len(rows)
        if misfits:
            rows = list(rows)
            for i in misfits:
                values = rows[i]
                errors[i] = (f"line {chunk.line_numbers[i]} has {len(values)} fields, the header has {width} "
                             "(truncated or shifted line)")
                rows[i] = (values + [None] * width)[:width]
                if len(values) > width:
                    extras[i] = {"(beyond the header)": values[width:]}
        by_column = list(zip(*rows, strict=True)) if rows else [()] * width
        if self._extra:
            for i in range(len(rows)):
                found = {h: by_column[c][i] for c, h in self._extra if by_column[c][i] is not None}
                extras[i] = {**found, **(extras[i] or {})} or None
        count = len(rows)
        result: dict[str, list] = {name: by_column[i] for i, name in self._kept}
        result.update({
            "_snapshot_date": [snapshot_date] * count,
            "_load_id": [load_id] * count,
            "_source_uri": [source_uri] * count,
            "_source_row": chunk.line_numbers,
            "_loaded_at": [loaded_at] * count,
            "_unexpected_columns": [json.dumps(e, ensure_ascii=False) if e else None for e in extras],
            "_file_error": errors,
        })
        return result


def validate_landed(
    warehouse: Warehouse, source: Source, landed: LandedFile, dag_run_id: str | None = None, **context: object
) -> dict:
    """Check the landed file's typed rows, chunk by chunk; keep results and quarantined rows in `ops`.

    Raises DataQualityError, after recording everything, when the file must not be published."""
    snapshot_date = dt.date.fromisoformat(landed.snapshot_date)
    suite_context = SuiteContext(
        thresholds=Thresholds.from_env(),
        snapshot_date=snapshot_date,
        missing_columns=tuple(landed.missing_columns),
        unexpected_columns=tuple(landed.unexpected_columns),
        encoding=landed.encoding,
        **context,
    )
    suite = get_suite(source.suite)
    typed = TypedCopy(warehouse, source.typed_view, snapshot_date, landed.load_id)
    checks = suite.checks(suite_context, suite.prepare(typed.profile(), suite_context))
    key = {"suite": suite.name, "snapshot_date": snapshot_date, "load_id": landed.load_id}
    common = {**key, "source_uri": landed.source_uri}
    try:
        typed.create(unique_columns(checks))
        with spool(warehouse, warehouse.table_id("ops", "quarantine")) as held:
            report = validate_chunks(
                typed.chunks(chunk_rows()), checks, suite, suite_context, source=landed.source_uri,
                on_quarantine=lambda frame, rows: held.write(
                    records.quarantine_columns(frame, rows, common, suite.personal_columns)
                ),
            )
            held.replace(key)
    finally:
        typed.drop()
    records.record_checks(warehouse, report, snapshot_date=snapshot_date, load_id=landed.load_id,
                          source_uri=landed.source_uri, dag_run_id=dag_run_id)
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
    parameters = {"snapshot_date": snapshot_date, "load_id": load_id, "published_at": dt.datetime.now(dt.UTC)}
    for sql in source.prepare_sql:
        warehouse.run_file(sql, parameters)
    warehouse.publish_partition_file(
        source.publish_sql, warehouse.table_id("core", source.core_table), "snapshot_date", snapshot_date,
        parameters, identifiers={"core_table": source.core_table},
    )
    published = warehouse.count_rows(
        warehouse.table_id("core", source.core_table), "snapshot_date = @d", {"d": snapshot_date}
    )
    log.info("published %s rows to core.%s for %s from load %s", published, source.core_table, snapshot_date, load_id)
    return {"snapshot_date": snapshot_date.isoformat(), "load_id": load_id, "rows": published}
