"""Score every active customer of a week with the champion, in chunks, and publish the week.

Two steps. The week is scored in shards (`shards.py`, one mapped `score_customers` task
each): a shard's features are read a chunk at a time (memory does not grow with the
customer count), each chunk scored in the worker by `score_frame` (calibrated probability,
reasons, segment, CLTV, revenue at risk) and staged; `score_week` does all shards in one
process. `publish_scores` then checks the shards are complete and does what needs the whole
week at once, in the warehouse: rank and percentile, risk band, and whether a customer is
newly at risk compared with the last scored week; one MERGE replaces the week.

Risk bands (environment, documented in the README): `high` from
`RETENTION_AT_RISK_THRESHOLD` (default 0.5: more likely to leave than not, "at risk"),
`medium` from `RETENTION_WATCH_THRESHOLD` (default 0.3), `low` below. Reasons are worked out
for customers in the medium and high bands only: they are what a marketer acts on.

`score_frame` is the whole per-chunk computation (a frame of ml.churn_features rows in, a
frame of staging rows out), with no warehouse access: a shard or a chunk is scored the same.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from retention.modeling.cltv import revenue_at_risk
from retention.modeling.features import model_inputs

if TYPE_CHECKING:
    from retention.modeling.train import ChurnModel
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

REASONS = ("reason_1", "reason_2", "reason_3")


@dataclass(frozen=True)
class RiskBands:
    watch: float
    """Probability from which a customer is in the `medium` band (and gets reasons)."""
    at_risk: float
    """Probability from which a customer is `high` risk, that is, at risk."""

    @classmethod
    def from_env(cls) -> RiskBands:
        bands = cls(
            watch=float(os.environ.get("RETENTION_WATCH_THRESHOLD", "0.3")),
            at_risk=float(os.environ.get("RETENTION_AT_RISK_THRESHOLD", "0.5")),
        )
        if not 0 < bands.watch <= bands.at_risk < 1:
            raise ValueError(
                f"risk thresholds must satisfy 0 < RETENTION_WATCH_THRESHOLD ({bands.watch}) <= "
                f"RETENTION_AT_RISK_THRESHOLD ({bands.at_risk}) < 1"
            )
        return bands


def staging_schema():
    from google.cloud import bigquery

    return [
        bigquery.SchemaField("snapshot_date", "DATE"),
        bigquery.SchemaField("customer_id", "STRING"),
        bigquery.SchemaField("model_version", "STRING"),
        bigquery.SchemaField("churn_probability", "FLOAT64"),
        *(bigquery.SchemaField(name, "STRING") for name in REASONS),
        bigquery.SchemaField("segment", "INT64"),
        bigquery.SchemaField("segment_name", "STRING"),
        bigquery.SchemaField("predicted_cltv", "FLOAT64"),
        bigquery.SchemaField("monthly_charges", "FLOAT64"),
        bigquery.SchemaField("monthly_revenue_at_risk", "FLOAT64"),
    ]


def score_frame(model: ChurnModel, frame: pd.DataFrame, bands: RiskBands, model_version: str) -> pd.DataFrame:
    """The worker's part of scoring, for one chunk of ml.churn_features rows."""
    inputs = model_inputs(frame, model.features)
    probability = model.predict_inputs(inputs)
    scored = pd.DataFrame({
        "snapshot_date": frame["snapshot_date"].to_numpy(),
        "customer_id": frame["customer_id"].to_numpy(),
        "model_version": model_version,
        "churn_probability": probability,
    })
    explained = probability >= bands.watch
    for name in REASONS:
        scored[name] = pd.Series([None] * len(frame), dtype=object)
    if explained.any():
        reasons = model.explainer.reasons(inputs.loc[explained])
        for name in REASONS:
            scored.loc[explained, name] = reasons[name].to_numpy()
    numbers, names = model.segmenter.predict(frame)
    scored["segment"] = numbers
    scored["segment_name"] = names
    scored["predicted_cltv"] = model.cltv.predict(inputs) if model.cltv is not None else np.nan
    charges = frame["monthly_charges"].astype("Float64").astype(float).to_numpy()
    scored["monthly_charges"] = charges
    scored["monthly_revenue_at_risk"] = revenue_at_risk(probability, charges)
    return scored


def score_week(
    warehouse: Warehouse, snapshot_date: dt.date, *, chunk_rows: int | None = None, bands: RiskBands | None = None
) -> dict:
    """Score every shard of the week in this process, one after the other (what the DAG's
    mapped score_customers tasks do side by side; see shards.py): for benchmarks and tests."""
    from retention.scoring.shards import plan_shards, score_shard

    started = time.perf_counter()
    shards = [
        score_shard(warehouse, snapshot_date, item["shard"], item["shards"], model_version=item["model_version"],
                    chunk_rows=chunk_rows, bands=bands)
        for item in plan_shards(warehouse, [snapshot_date])
    ]
    return {
        "snapshot_date": snapshot_date.isoformat(), "model_version": shards[0]["model_version"],
        "rows": sum(s["rows"] for s in shards), "chunks": sum(s["chunks"] for s in shards),
        "seconds_scoring": round(sum(s["seconds_scoring"] for s in shards), 2),
        "seconds_total": round(time.perf_counter() - started, 2), "staging_table": shards[0]["staging_table"],
        "shards": shards,
    }


def _arrow_schema(schema) -> pa.Schema:
    import pyarrow as pa

    kinds = {"DATE": pa.date32(), "STRING": pa.string(), "FLOAT64": pa.float64(), "INT64": pa.int64()}
    return pa.schema([pa.field(field.name, kinds[field.field_type]) for field in schema])


def ensure_scores_table(warehouse: Warehouse) -> None:
    from retention import table_options

    warehouse.run_file("ml/churn_scores/create.sql")
    table_options.apply(warehouse, "ml", "churn_scores")


def publish_scores(
    warehouse: Warehouse, snapshot_date: dt.date, bands: RiskBands | None = None,
    shards: Sequence[Mapping] | None = None,
) -> dict:
    """Replace the week in ml.churn_scores from its shard staging table; then bring `newly_at_risk`
    of the next scored week (if a backfill just filled the week before it) up to date.
    `shards` (what the score_customers tasks reported) guards against publishing a partial
    or inconsistent week: see shards.check_shards."""
    from retention.scoring.shards import check_shards, shard_staging_table
    from retention.warehouse_partitions import next_partition

    bands = bands or RiskBands.from_env()
    ensure_scores_table(warehouse)
    staging = shard_staging_table(snapshot_date)
    if shards is not None:
        check_shards(warehouse, snapshot_date, shards)
    elif not warehouse.table_exists(warehouse.table_id("ml", staging)):
        raise RuntimeError(
            f"no staged scores for {snapshot_date} (ml.{staging}): clear and re-run score_customers first"
        )
    params = {"snapshot_date": snapshot_date, "watch": bands.watch, "at_risk": bands.at_risk,
              "scored_at": dt.datetime.now(dt.UTC)}
    scores_id = warehouse.table_id("ml", "churn_scores")
    warehouse.publish_partition_file("ml/churn_scores/publish.sql", scores_id, "snapshot_date", snapshot_date,
                                     params, identifiers={"staging": staging})
    compare_with_previous_week(warehouse, snapshot_date)
    later = next_partition(warehouse, scores_id, snapshot_date)
    if later is not None:
        compare_with_previous_week(warehouse, later)
    rows = warehouse.rows(
        "SELECT COUNT(*) AS customers, COUNTIF(at_risk) AS at_risk, COUNTIF(newly_at_risk) AS newly_at_risk, "
        "ANY_VALUE(previous_scored_week) AS previous_scored_week, ANY_VALUE(model_version) AS model_version "
        "FROM `{{ ml }}.churn_scores` WHERE snapshot_date = @snapshot_date",
        {"snapshot_date": snapshot_date}, source="published scores",
    )[0]
    summary = {"snapshot_date": snapshot_date.isoformat(), **rows,
               "previous_scored_week": str(rows["previous_scored_week"] or "none (first scored week)"),
               "refreshed_next_week": str(later) if later else None,
               "shards": shards[0]["shards"] if shards else None}
    log.info("published %s", summary)
    return summary


def compare_with_previous_week(warehouse: Warehouse, snapshot_date: dt.date) -> None:
    previous = warehouse.latest_partition(warehouse.table_id("ml", "churn_scores"),
                                          before=snapshot_date)
    if previous is None:  # the first scored week is the baseline: newly_at_risk stays NULL
        return
    warehouse.run_file("ml/churn_scores/newly_at_risk.sql", {"snapshot_date": snapshot_date, "previous_week": previous})
