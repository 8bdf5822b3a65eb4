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
4. `score_customers`: the champion scores the week in chunks (probability, top three reasons
   from SHAP, segment, CLTV, revenue at risk) into a staging table.
5. `publish_scores`: ranks, bands and `newly_at_risk` in the warehouse, one MERGE into
   `ml.churn_scores`, then the Asset `ml.churn_scores` that `senior_outreach` runs on.
6. `refresh_marts`: the views of the `marts` dataset Looker Studio reads, with column
   descriptions.

**Re-running** a week replaces its features, staging and scores; retraining on the same rows
is skipped, so a re-run never adds a registry row.

**When it fails**
- `build_features`: *no rows*: `core.customers` has no such week; run `telco_ingest` for it.
- `train_challenger`: *LeakageError*: a column that gives the label away reached the
  features; the message names it. Fix `sql/ml/churn_features/publish.sql`, *Clear*.
- `score_customers`: *ArtifactError* (artifact missing, altered, or saved with other library
  versions): restore the file named in the message or clear `train_challenger` to retrain;
  scoring never falls back to another model. Anything else: *Clear* `score_customers` only.
- `publish_scores`: *no staged scores* or *holds N scored rows but score_customers staged M*
  (a partial attempt): *Clear* from `score_customers`.
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
        from retention.modeling.features import build_features
        from retention.warehouse import Warehouse

        warehouse, rows = Warehouse.connect(), {}
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
    def score_customers(features: dict, champion: dict) -> list[dict]:
        import datetime as dt

        from retention.scoring.score import score_week
        from retention.warehouse import Warehouse

        warehouse = Warehouse.connect()
        return [score_week(warehouse, dt.date.fromisoformat(week)) for week in features["weeks"]]

    @task(outlets=[CHURN_SCORES])
    def publish_scores(scored: list[dict]) -> list[dict]:
        import datetime as dt

        from retention.scoring.score import publish_scores
        from retention.warehouse import Warehouse

        warehouse = Warehouse.connect()
        published = [  # oldest first: each week is compared with the one before it
            publish_scores(warehouse, dt.date.fromisoformat(week["snapshot_date"]), expected_rows=week["rows"])
            for week in scored
        ]
        weeks = [week["snapshot_date"] for week in scored]
        get_current_context()["outlet_events"][CHURN_SCORES].extra = {WEEK_EXTRA: weeks[-1], "weeks": weeks}
        return published

    @task
    def refresh_marts(published: dict) -> dict:
        from retention.marts.build import refresh_marts
        from retention.warehouse import Warehouse

        return refresh_marts(Warehouse.connect())

    features = build_features()
    champion = promote_or_keep_champion(train_challenger(features))
    refresh_marts(publish_scores(score_customers(features, champion)))


churn_weekly()
