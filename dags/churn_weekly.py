"""
### churn_weekly: train, promote or keep, score every customer, publish the marts

**Runs** when `telco_ingest` publishes a week (Asset `core.customers`) and handles that week
(the event's `snapshot_date`; every week named by the events, oldest first, when a backfill's
events arrive together; a manual run takes `{"snapshot_date": "YYYY-MM-DD"}` as conf). Only the
latest published week retrains: a backfilled older week is scored by the current champion.

**Steps**, one task each, so a failed step is retried alone:
1. `build_features`: `ml.churn_features` for the week, from `core.customers`.
2. `train_challenger`: picks the training rows (the latest weeks whose outcome is known, or
   the labelled IBM export until the history has enough leavers; see
   `include/retention/modeling/weekly.py`), evaluates the candidates by cross-validation,
   blends and calibrates them, saves the result to the artifact store. Skipped when a model
   in the registry was trained on exactly the same rows and settings.
3. `promote_or_keep_champion`: compares the challenger with the champion on rows neither was
   trained on, writes `ml.model_registry` (promoted, or rejected with the reason).
4. `plan_scoring_shards`: splits each week into shards by a stable hash of `customer_id`
   (`RETENTION_SCORING_SHARD_ROWS` rows per shard, at most `RETENTION_SCORING_MAX_SHARDS`)
   and pins the champion that scores them.
   `score_customers` (mapped, one task per shard, named "week shard k/n" in the grid): reads
   its shard's features only (Storage Read API, REST as fallback), scores them in chunks
   (probability, top three reasons from SHAP, segment, CLTV, revenue at risk) and replaces
   its shard's rows in the week's staging table. The shards run side by side on as many
   worker slots as the executor has (LocalExecutor, Celery or Kubernetes alike).
5. `publish_scores`: waits for every shard, refuses a partial set (naming the missing
   shards), then ranks, bands and `newly_at_risk` in the warehouse, one job writing the
   week's partition of `ml.churn_scores`, then the Asset `ml.churn_scores` that
   `senior_outreach` runs on.
6. `refresh_marts`: the tables of the `marts` dataset Looker Studio reads, for the weeks just
   published (and the earlier weeks whose outcome they complete), with column descriptions.

**Re-running** a week replaces its features, staging and scores; retraining on the same rows
is skipped, so a re-run never adds a registry row. Clearing one `score_customers` shard
replaces that shard's staged rows only; then clear `publish_scores` to publish them.

**When it fails**
- `build_features`: *no rows*: `core.customers` has no such week; run `telco_ingest` for it.
- `train_challenger`: *LeakageError*: a column that gives the label away reached the
  features; the message names it. Fix `sql/ml/churn_features/publish.sql`, *Clear*.
- `score_customers`: *ArtifactError* (artifact missing, altered, or saved with other library
  versions): restore the file named in the message or clear `train_challenger` to retrain;
  scoring never falls back to another model. *the champion is X, but the week was planned
  for Y*: clear from `plan_scoring_shards`. Anything else: *Clear* the failed shard only.
- `publish_scores`: *shard(s) [...] have not been scored* or *the rows of shard(s) [...] are
  not the ones their tasks reported* (a partial set): *Clear* those `score_customers` shards,
  or from `plan_scoring_shards` when the message says so.
Until `publish_scores` succeeds, `ml.churn_scores` and the marts keep the last published week.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from retention.assets import CHURN_SCORES, CORE_CUSTOMERS, WEEK_EXTRA
from retention.operations import task_defaults


def _weeks():
    from retention.schedule import triggered_snapshot_dates

    return triggered_snapshot_dates(get_current_context())


@dag(
    schedule=[CORE_CUSTOMERS],
    start_date=pendulum.datetime(2026, 1, 5, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=task_defaults(owner="data-science"),
    tags=["ml", "churn", "weekly"],
)
def churn_weekly():
    @task
    def build_features() -> dict:
        from retention.migrations import migrate
        from retention.modeling.features import build_features
        from retention.warehouse import Warehouse

        warehouse, rows = Warehouse.connect(), {}
        migrate(warehouse, applied_by="churn_weekly")  # older tables brought up to this release first
        for week in _weeks():
            rows[week.isoformat()] = build_features(warehouse, week)
            if rows[week.isoformat()] == 0:
                raise RuntimeError(f"core.customers has no rows for {week}: run telco_ingest for that week first")
        return {"weeks": sorted(rows), "rows": rows}

    @task
    def train_challenger(features: dict) -> dict:
        import datetime as dt

        from retention.modeling.features import LeakageError
        from retention.modeling.weekly import train_challenger
        from retention.warehouse import Warehouse

        try:
            return train_challenger(Warehouse.connect(), dt.date.fromisoformat(features["weeks"][-1]))
        except LeakageError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(error)) from error

    @task
    def promote_or_keep_champion(trained: dict) -> dict:
        from retention.modeling.weekly import promote_or_keep
        from retention.warehouse import Warehouse

        return promote_or_keep(Warehouse.connect(), trained)

    @task
    def plan_scoring_shards() -> list[dict]:
        from retention.scoring.shards import plan_shards
        from retention.warehouse import Warehouse

        return plan_shards(Warehouse.connect(), _weeks())

    @task(map_index_template="{{ shard_label }}")
    def score_customers(assignment: dict) -> dict:
        import datetime as dt

        from retention.scoring.shards import score_shard
        from retention.warehouse import Warehouse

        week, shard, shards = dt.date.fromisoformat(assignment["snapshot_date"]), assignment["shard"], assignment["shards"]
        get_current_context()["shard_label"] = f"{week} shard {shard + 1}/{shards}"
        return score_shard(Warehouse.connect(), week, shard, shards, model_version=assignment["model_version"])

    @task(outlets=[CHURN_SCORES])
    def publish_scores(plan: list[dict], scored: list[dict]) -> list[dict]:
        import datetime as dt

        from retention.scoring.score import publish_scores
        from retention.warehouse import Warehouse

        warehouse, scored = Warehouse.connect(), list(scored)
        weeks = sorted({assignment["snapshot_date"] for assignment in plan})
        published = [  # oldest first: each week is compared with the one before it
            publish_scores(warehouse, dt.date.fromisoformat(week), shards=scored) for week in weeks
        ]
        get_current_context()["outlet_events"][CHURN_SCORES].extra = {WEEK_EXTRA: weeks[-1], "weeks": weeks}
        return published

    @task
    def refresh_marts(published: list[dict]) -> dict:
        from retention.marts.build import refresh_marts
        from retention.warehouse import Warehouse

        weeks = {week["snapshot_date"] for week in published} | {
            week["refreshed_next_week"] for week in published if week.get("refreshed_next_week")}
        return refresh_marts(Warehouse.connect(), weeks)

    features = build_features()
    champion = promote_or_keep_champion(train_challenger(features))
    plan = plan_scoring_shards()
    [features, champion] >> plan  # the plan reads what they wrote: the week's features, the champion
    refresh_marts(publish_scores(plan, score_customers.expand(assignment=plan)))


churn_weekly()
