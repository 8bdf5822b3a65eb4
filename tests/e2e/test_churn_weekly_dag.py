"""Real Airflow runs of churn_weekly (dag.test) on the local emulator: a week scored by mapped
shard tasks, published once they are all done, and a re-run that changes nothing."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from retention.config import PROJECT_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.airflow]

LOGICAL_DATE = pendulum.datetime(2026, 11, 16, 4, tz="Asia/Seoul")
WEEK = dt.date(2026, 11, 16)


@pytest.fixture
def churn_weekly(airflow_db, warehouse, monkeypatch, tmp_path):
    """The DAG, with one published week (customers and contacts) in the test's datasets."""
    from airflow.dag_processing.dagbag import DagBag

    from retention.ingest.contacts import land_contacts, publish_contacts, validate_contacts
    from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot

    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    monkeypatch.setenv("RETENTION_TRAINING_FOLDS", "3")
    monkeypatch.setenv("RETENTION_SCORING_SHARD_ROWS", "3000")  # about 7,700 customers: 3 shards
    ensure_tables(warehouse)
    landed = land_snapshot(warehouse, WEEK, source="synthetic")
    validate_snapshot(warehouse, landed)
    publish_customers(warehouse, WEEK, landed.load_id)
    contacts = land_contacts(warehouse, WEEK)
    validate_contacts(warehouse, contacts)
    publish_contacts(warehouse, WEEK, contacts.load_id)
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "churn_weekly.py")).dags["churn_weekly"]


def _scores(warehouse):
    return warehouse.dataframe(
        "SELECT * EXCEPT (scored_at) FROM `{{ ml }}.churn_scores` WHERE snapshot_date = @w ORDER BY customer_id",
        {"w": WEEK},
    )


def test_a_week_is_scored_by_one_mapped_task_per_shard_and_a_rerun_publishes_the_same_scores(churn_weekly, warehouse):
    import pandas as pd

    published = []
    for _ in range(2):
        run = churn_weekly.test(logical_date=LOGICAL_DATE)
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
        assert str(run.state) == "success", states
        shards = sorted((ti for ti in run.get_task_instances() if ti.task_id == "score_customers"),
                        key=lambda ti: ti.map_index)
        assert [ti.map_index for ti in shards] == [0, 1, 2]
        assert [ti.rendered_map_index for ti in shards] == [f"{WEEK} shard {k}/3" for k in (1, 2, 3)]
        assert {str(ti.state) for ti in shards} == {"success"}
        published.append(_scores(warehouse))
    features = warehouse.count_rows(warehouse.table_id("ml", "churn_features"), "snapshot_date = @w", {"w": WEEK})
    assert len(published[0]) == features > 7000 and published[0]["customer_id"].is_unique
    pd.testing.assert_frame_equal(published[1], published[0])
    assert warehouse.count_rows(warehouse.table_id("ml", "model_registry")) == 1
    staged = warehouse.rows(
        f"SELECT shard, COUNT(*) AS n FROM `{warehouse.table_id('ml', '_churn_scores_shards_20261116')}` "
        "GROUP BY shard ORDER BY shard"
    )
    assert [row["shard"] for row in staged] == [0, 1, 2] and sum(row["n"] for row in staged) == features
