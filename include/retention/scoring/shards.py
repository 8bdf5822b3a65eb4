"""A week's scoring split into shards, one mapped Airflow task each, staged in the warehouse.

A shard is the customers whose `ABS(MOD(FARM_FINGERPRINT(customer_id), shards))` is its
number: stable (the same customer lands in the same shard on every run, on BigQuery and on
the emulator), about equal in size, and computed by the warehouse, so a shard's worker reads
its own rows and nothing else (`Warehouse.read_table`, one Storage Read stream per shard).

- `plan_shards`: how many shards each week gets, from its row count in `ml.churn_features`:
  `RETENTION_SCORING_SHARD_ROWS` rows per shard (default 250,000), at least 1, at most
  `RETENTION_SCORING_MAX_SHARDS` (default 16); the plan pins the champion that scores them.
- `score_shard`: scores one shard chunk by chunk (`score_frame`, the worker's part) into a
  table of its own attempt, then one MERGE replaces that shard's rows in the week's shard
  staging table: a retry or a re-run of one shard replaces that shard and nothing else, and
  an attempt that fails half-way leaves the shard's last complete rows in place.
- `check_shards`: what `publish_scores` verifies before it publishes: every planned shard
  scored, the staging table holding exactly the attempts the tasks reported, with their
  row counts, one model, and all the week's rows.

Nothing is shared between tasks but the warehouse and the artifact store, so the same DAG
runs on the LocalExecutor, Celery or Kubernetes workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retention.scoring.score import RiskBands
    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

FEATURES = "churn_features"


class PartialScoresError(RuntimeError):
    """The shards staged for a week are not the complete, consistent set the plan asked for."""


@dataclass(frozen=True)
class ShardSizing:
    rows_per_shard: int
    """Target rows per shard: a week of N rows gets ceil(N / rows_per_shard) shards."""
    max_shards: int
    """At most this many shards (mapped tasks) per week, whatever its size."""

    @classmethod
    def from_env(cls) -> ShardSizing:
        sizing = cls(
            rows_per_shard=int(os.environ.get("RETENTION_SCORING_SHARD_ROWS", "250000")),
            max_shards=int(os.environ.get("RETENTION_SCORING_MAX_SHARDS", "16")),
        )
        if sizing.rows_per_shard < 1 or sizing.max_shards < 1:
            raise ValueError(
                f"RETENTION_SCORING_SHARD_ROWS ({sizing.rows_per_shard}) and RETENTION_SCORING_MAX_SHARDS "
                f"({sizing.max_shards}) must both be at least 1"
            )
        return sizing

    def shards_for(self, rows: int) -> int:
        return max(1, min(self.max_shards, math.ceil(rows / self.rows_per_shard)))


def shard_staging_table(snapshot_date: dt.date) -> str:
    """The week's shard staging table (one per week; each shard replaces its own rows)."""
    return f"_churn_scores_shards_{snapshot_date:%Y%m%d}"


def staging_schema():
    from google.cloud import bigquery

    from retention.scoring.score import staging_schema as scored_schema

    return [
        *scored_schema(),
        bigquery.SchemaField("shard", "INT64"),
        bigquery.SchemaField("shards", "INT64"),
        bigquery.SchemaField("attempt_id", "STRING"),
    ]


def plan_shards(warehouse: Warehouse, weeks: Sequence[dt.date], sizing: ShardSizing | None = None) -> list[dict]:
    """One assignment per shard of every week (oldest first): what a mapped task scores."""
    from retention.modeling.registry import current_champion

    sizing = sizing or ShardSizing.from_env()
    champion = current_champion(warehouse)
    if champion is None:
        raise RuntimeError("no champion in ml.model_registry: run train_challenger and promote_or_keep_champion first")
    plan = []
    for week in sorted(weeks):
        rows = warehouse.count_rows(warehouse.table_id("ml", FEATURES), "snapshot_date = @d", {"d": week})
        if rows == 0:
            raise RuntimeError(
                f"ml.churn_features has no rows for {week}: nothing to score. Run build_features for that week "
                "(it needs core.customers published for it) and retry"
            )
        shards = sizing.shards_for(rows)
        plan += [{"snapshot_date": week.isoformat(), "shard": shard, "shards": shards, "week_rows": rows,
                  "model_version": champion["model_version"]} for shard in range(shards)]
        log.info("%s: %s rows in %s shard(s) of about %s", week, rows, shards, math.ceil(rows / shards))
    return plan


def score_shard(
    warehouse: Warehouse,
    snapshot_date: dt.date,
    shard: int,
    shards: int,
    *,
    model_version: str | None = None,
    chunk_rows: int | None = None,
    bands: RiskBands | None = None,
) -> dict:
    """Score one shard of the week with the champion and replace that shard's staged rows.
    `model_version` (the plan's) must still be the champion: all shards of a week get one model."""
    import pyarrow as pa

    from retention.modeling.registry import load_champion
    from retention.scoring.score import RiskBands, _arrow_schema, score_frame
    from retention.warehouse_reads import Shard, last_read_path

    bands = bands or RiskBands.from_env()
    chunk_rows = chunk_rows or int(os.environ.get("RETENTION_SCORING_CHUNK_ROWS", "20000"))
    where = Shard(shard, shards)
    champion, model = load_champion(warehouse)
    if model_version is not None and champion["model_version"] != model_version:
        raise RuntimeError(
            f"the champion is {champion['model_version']}, but {snapshot_date} was planned for {model_version}: "
            "its shards must share one model. Clear from plan_scoring_shards to score the whole week again"
        )
    model.use_threads(int(os.environ.get("RETENTION_SCORING_THREADS", "1")))
    schema = staging_schema()
    arrow_schema = _arrow_schema(schema)
    staging_id = warehouse.table_id("ml", shard_staging_table(snapshot_date))
    # Clustered by shard on BigQuery, so each shard's MERGE and publish's checks read little.
    warehouse.ensure_table(staging_id, schema, clustering=["shard"])
    attempt_id = uuid.uuid4().hex
    attempt_table = f"{shard_staging_table(snapshot_date)}_{shard}_of_{shards}_{attempt_id[:12]}"
    attempt_id_full = warehouse.table_id("ml", attempt_table)
    warehouse.ensure_table(attempt_id_full, schema, expires_after=dt.timedelta(days=1))
    rows = chunks = 0
    seconds_scoring = 0.0
    started = time.perf_counter()
    try:
        for chunk in warehouse.read_table(
            warehouse.table_id("ml", FEATURES),
            columns=list(dict.fromkeys(["snapshot_date", "customer_id", *model.features])),
            equals={"snapshot_date": snapshot_date}, shard=where, chunk_rows=chunk_rows,
            source=f"ml.churn_features {snapshot_date} shard {shard} of {shards}",
        ):
            began = time.perf_counter()
            scored = score_frame(model, chunk.to_pandas(), bands, champion["model_version"])
            seconds_scoring += time.perf_counter() - began
            scored["shard"], scored["shards"], scored["attempt_id"] = shard, shards, attempt_id
            warehouse.load_arrow(attempt_id_full, pa.Table.from_pandas(scored, schema=arrow_schema,
                                                                     preserve_index=False), schema, append=True)
            rows += chunk.num_rows
            chunks += 1
        columns = [field.name for field in schema]
        warehouse.run_file(
            "ml/churn_scores/stage_shard.sql", {"shard": shard, "shards": shards},
            identifiers={"staging": shard_staging_table(snapshot_date), "attempt": attempt_table,
                         "columns": columns, "attempt_columns": [f"attempt.{c}" for c in columns]},
        )
    finally:
        warehouse.drop_table(attempt_id_full)
    # Kept for publish_scores and re-runs of single shards, not for ever.
    warehouse.expire_after(staging_id, dt.timedelta(days=14))
    summary = {
        "snapshot_date": snapshot_date.isoformat(), "shard": shard, "shards": shards, "rows": rows,
        "chunks": chunks, "attempt_id": attempt_id, "model_version": champion["model_version"],
        "read_path": last_read_path(warehouse), "seconds_scoring": round(seconds_scoring, 2),
        "seconds_total": round(time.perf_counter() - started, 2), "staging_table": staging_id,
    }
    log.info("scored %s", summary)
    return summary


def check_shards(warehouse: Warehouse, snapshot_date: dt.date, scored: Sequence[Mapping]) -> None:
    """Refuse to publish a week unless its staged rows are exactly what its shard tasks scored:
    every shard of the plan, each by the attempt its task reported, with its row count, one
    model, and together every row of the week."""
    week = snapshot_date.isoformat()
    results = [result for result in scored if result["snapshot_date"] == week]
    if not results:
        raise PartialScoresError(f"no shard of {week} was scored: clear from score_customers first")
    counts = {result["shards"] for result in results}
    if len(counts) != 1:
        raise PartialScoresError(f"the shards of {week} were scored under different shard counts {sorted(counts)}: "
                                 "clear from plan_scoring_shards")
    shards = counts.pop()
    by_shard = {result["shard"]: result for result in results}
    missing = sorted(set(range(shards)) - set(by_shard))
    if missing:
        raise PartialScoresError(
            f"{week}: shard(s) {missing} of {shards} have not been scored, so the week is incomplete. Clear "
            "score_customers for those shards; ml.churn_scores keeps the last published week"
        )
    models = {result["model_version"] for result in results}
    if len(models) != 1:
        raise PartialScoresError(f"{week}: shards scored by different models {sorted(models)}: clear from "
                                 "plan_scoring_shards")
    staging = shard_staging_table(snapshot_date)
    staged = warehouse.rows(
        f"SELECT shards, shard, attempt_id, COUNT(*) AS n FROM `{warehouse.table_id('ml', staging)}` "
        "WHERE snapshot_date = @d GROUP BY shards, shard, attempt_id", {"d": snapshot_date},
        source=f"shards staged for {week}",
    ) if warehouse.table_exists(warehouse.table_id("ml", staging)) else []
    found = {(row["shards"], row["shard"], row["attempt_id"]): row["n"] for row in staged}
    expected = {(shards, shard, result["attempt_id"]): result["rows"] for shard, result in by_shard.items()}
    wrong = sorted({shard for (_, shard, _) in set(found) ^ set(expected)} |
                   {key[1] for key in expected if key in found and found[key] != expected[key]})
    if wrong:
        raise PartialScoresError(
            f"ml.{staging}: the rows of shard(s) {wrong} are not the ones their score_customers tasks reported "
            "(missing, from another attempt, or a different count). Clear score_customers for those shards; "
            "ml.churn_scores keeps the last published week"
        )
    total, planned = sum(expected.values()), results[0].get("week_rows")
    if planned is not None and total != planned:
        raise PartialScoresError(
            f"{week}: the {shards} shard(s) hold {total} rows but ml.churn_features had {planned} when the week was "
            "planned (features rebuilt since?). Clear from plan_scoring_shards"
        )
