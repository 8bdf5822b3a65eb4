"""Keep what a validation found in `ops`: the decision, every check result, the quarantined rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from retention.quality.gates import ROW_ID, Report

if TYPE_CHECKING:
    import pandas as pd

    from retention.warehouse import Warehouse

TABLE_DDL = ("ops/validation_runs/create.sql", "ops/validation_results/create.sql", "ops/quarantine/create.sql")


def record(
    warehouse: Warehouse,
    report: Report,
    frame: pd.DataFrame,
    *,
    snapshot_date: dt.date,
    load_id: str,
    source_uri: str,
    dag_run_id: str | None,
    personal_columns: tuple[str, ...] = (),
) -> None:
    """Replace this file's rows in the three ops tables (idempotent per suite, week and file).
    `personal_columns` are left out of the quarantined records."""
    key = {"suite": report.suite, "snapshot_date": snapshot_date, "load_id": load_id}
    held = quarantine_columns(frame, report.quarantine, {**key, "source_uri": source_uri}, personal_columns)
    rows = [dict(zip(held, values, strict=True)) for values in zip(*held.values(), strict=True)]
    warehouse.replace_rows(warehouse.table_id("ops", "quarantine"), rows, key)
    record_checks(warehouse, report, snapshot_date=snapshot_date, load_id=load_id, source_uri=source_uri,
                  dag_run_id=dag_run_id)


def quarantine_columns(
    frame: pd.DataFrame, held: dict[int, list[str]], common: dict, personal_columns: tuple[str, ...] = ()
) -> dict[str, list]:
    """`ops.quarantine` rows, as columns, for the `held` file lines of `frame`: why, and the
    typed record as JSON (personal columns left out)."""
    lines = sorted(held)
    if not lines:
        return {}
    kept = frame.drop(columns=[c for c in personal_columns if c in frame.columns])
    kept = kept[[c for c in kept.columns if not c.endswith("__copies")]]
    by_row = kept.set_index(ROW_ID, drop=False)
    present = [line for line in lines if line in by_row.index]
    as_json = by_row.loc[present].to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
    records = dict(zip(present, as_json.splitlines(), strict=True)) if present else {}
    now = dt.datetime.now(dt.UTC)
    return {
        **{name: [value] * len(lines) for name, value in common.items()},
        "source_row": lines,
        "reasons": ["; ".join(held[line]) for line in lines],
        "record": [records.get(line) for line in lines],
        "quarantined_at": [now] * len(lines),
    }


def record_checks(
    warehouse: Warehouse, report: Report, *, snapshot_date: dt.date, load_id: str, source_uri: str,
    dag_run_id: str | None,
) -> None:
    """Every check's result, then the decision: the decision is written last, so a file whose
    recording was cut short is never cleared for publishing."""
    now = dt.datetime.now(dt.UTC)
    key = {"suite": report.suite, "snapshot_date": snapshot_date, "load_id": load_id}
    common = {**key, "source_uri": source_uri}
    results = [
        {
            **common,
            "dag_run_id": dag_run_id,
            "check_name": o.check_name,
            "description": o.description,
            "blocking": o.blocking,
            "row_level": o.row_level,
            "success": o.success,
            "observed_value": o.observed_value,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "sample": json.dumps(o.sample, ensure_ascii=False, default=str) if o.sample else None,
            "validated_at": now,
        }
        for o in report.outcomes
    ]
    warehouse.replace_rows(warehouse.table_id("ops", "validation_results"), results, key)
    run = {
        **common,
        "dag_run_id": dag_run_id,
        "rows_received": report.rows_received,
        "rows_quarantined": report.rows_quarantined,
        "quarantined_share": report.quarantined_share,
        "decision": report.decision,
        "message": report.message,
        "validated_at": now,
    }
    warehouse.replace_rows(warehouse.table_id("ops", "validation_runs"), [run], key)


def decision_for(warehouse: Warehouse, suite: str, snapshot_date: dt.date, load_id: str) -> str | None:
    rows = warehouse.rows(
        "SELECT decision FROM `{{ ops }}.validation_runs` "
        "WHERE suite = @suite AND snapshot_date = @snapshot_date AND load_id = @load_id",
        {"suite": suite, "snapshot_date": snapshot_date, "load_id": load_id},
    )
    return rows[0]["decision"] if rows else None
