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
    now = dt.datetime.now(dt.UTC)
    key = {"suite": report.suite, "snapshot_date": snapshot_date, "load_id": load_id}
    common = {**key, "source_uri": source_uri}
    kept = frame.drop(columns=[c for c in personal_columns if c in frame.columns])
    by_row = kept.set_index(ROW_ID, drop=False) if report.quarantine else None
    quarantined = [
        {
            **common,
            "source_row": row,
            "reasons": "; ".join(reasons),
            "record": by_row.loc[row].to_json(date_format="iso", force_ascii=False) if row in by_row.index else None,
            "quarantined_at": now,
        }
        for row, reasons in sorted(report.quarantine.items())
    ]
    warehouse.replace_rows(warehouse.table_id("ops", "quarantine"), quarantined, key)
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
