"""Every DAG parses cleanly, offline, and carries what operators rely on in the UI."""

from __future__ import annotations

import socket

import pytest

from retention.config import PROJECT_ROOT

EXPECTED_DAGS = {"telco_ingest", "churn_weekly", "places_refresh", "senior_outreach", "consent_notices"}


class NetworkAtParseTime(RuntimeError):
    pass


@pytest.fixture(scope="module")
def dagbag():
    """Parse the DAG folder with every outgoing connection refused: parsing must not touch the network."""
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise NetworkAtParseTime(f"a DAG file opened a connection at parse time: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_the_expected_dags_are_there(dagbag):
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


def test_dag_file_names_are_dag_ids():
    files = {path.stem for path in (PROJECT_ROOT / "dags").glob("*.py") if not path.name.startswith("_")}
    assert files == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_is_documented_owned_tagged_and_retried(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and "When it fails" in dag.doc_md, "doc_md must say what it reads, writes and how to recover"
    assert dag.tags
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id} has no owner"
        assert task.retries >= 2, f"{dag_id}.{task.task_id} retries {task.retries}"


def test_churn_weekly_runs_on_published_customers_and_scores_in_mapped_shards_apart_from_training(dagbag):
    dag = dagbag.dags["churn_weekly"]
    assert "core.customers" in str(dag.timetable.asset_condition)
    order = ["build_features", "train_challenger", "promote_or_keep_champion", "plan_scoring_shards",
             "score_customers", "publish_scores", "refresh_marts"]
    assert [t for t in order if t in dag.task_ids] == order
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert upstream in dag.get_task(downstream).upstream_task_ids or downstream == "plan_scoring_shards"
    assert dag.get_task("plan_scoring_shards").upstream_task_ids == {"build_features", "promote_or_keep_champion"}
    scoring = dag.get_task("score_customers")
    assert scoring.is_mapped and scoring.upstream_task_ids == {"plan_scoring_shards"}, "one task per shard"
    # publish waits for every shard (all succeeded) and reads the plan to know which it needs
    publish = dag.get_task("publish_scores")
    assert publish.upstream_task_ids == {"plan_scoring_shards", "score_customers"}
    assert publish.trigger_rule == "all_success"
    assert [o.name for o in publish.outlets] == ["ml.churn_scores"]


def test_senior_outreach_runs_on_the_scores_and_hourly_in_the_send_window(dagbag):
    dag = dagbag.dags["senior_outreach"]
    assert "ml.churn_scores" in str(dag.timetable.asset_condition)
    hourly = dag.timetable.timetable  # 08:00-20:00 KST: never a run in the quiet hours
    assert (hourly.expression, str(hourly.timezone)) == ("0 8-20 * * *", "Asia/Seoul")
    assert dag.max_active_runs == 1  # one sender of the outbox at a time
    order = ["decide_audience", "queue_messages", "send_messages", "check_delivery", "refresh_campaign_results"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}


def test_every_task_reports_to_operations_and_the_narrow_resources_have_pools(dagbag):
    from retention.operations.callbacks import task_failed, task_succeeded

    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.on_failure_callback in (task_failed, [task_failed]), f"{dag.dag_id}.{task.task_id}"
            assert task.on_success_callback in (task_succeeded, [task_succeeded]), f"{dag.dag_id}.{task.task_id}"
    pools = {(dag.dag_id, task.task_id): task.pool for dag in dagbag.dags.values() for task in dag.tasks}
    assert pools[("places_refresh", "land_kt_stores")] == pools[("places_refresh", "land_learning_centers")] \
        == "places_scraping"
    assert pools[("senior_outreach", "send_messages")] == "sms_sending"


def test_the_weekly_sms_deadline_survives_serialization_with_the_plugin(monkeypatch):
    """Under a scheduler the deadline is on; the custom reference is found through the plugin."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    monkeypatch.setenv("RETENTION_DEADLINE_ALERTS", "on")
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "senior_outreach.py")).dags["senior_outreach"]
    alerts = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert [alert.name for alert in alerts] == ["weekly SMS before noon KST"]
    serialized = DagSerialization.serialize_dag(dag)
    assert "SmsBeforeNoonSeoul" in str(serialized["deadline"])
    restored = DagSerialization.deserialize_dag(serialized)
    assert restored.deadline
