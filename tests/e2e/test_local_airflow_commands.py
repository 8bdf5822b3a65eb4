"""What `make backfill` and the start of `make airflow-ui` tell an operator, on a real Airflow
metadata database: a backfill with no scheduler to run it is refused (and creates nothing), and
asset events that the demo's `airflow dags test` runs left queued are not replayed unasked."""

from __future__ import annotations

import os
import subprocess
import sys

import pendulum
import pytest

from retention.config import PROJECT_ROOT

pytestmark = [pytest.mark.airflow]


def _backfills(dag_id: str) -> int:
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(Backfill).filter(Backfill.dag_id == dag_id).count()


def test_a_backfill_without_a_running_scheduler_is_refused_and_creates_nothing(airflow_db, tmp_path):
    """What an operator saw: "Created backfill Dag run", exit 0, and then nothing ever ran."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    # The Airflow home `make demo` leaves: migrated, the DAGs known, no scheduler running.
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "telco_ingest.py")), "dags-folder", None)
    (tmp_path / "airflow").symlink_to(airflow_db, target_is_directory=True)
    before = _backfills("telco_ingest")
    result = subprocess.run(
        [sys.executable, "-m", "retention.local", "backfill", "--dag-id", "telco_ingest",
         "--from-date", "2026-11-09", "--to-date", "2026-11-16"],
        env={**os.environ, "RETENTION_LOCAL_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No Airflow scheduler is running" in result.stderr and "make airflow-ui" in result.stderr
    assert "nothing was created" in result.stderr and "Created backfill" not in result.stdout
    assert _backfills("telco_ingest") == before


def _queued(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(AssetDagRunQueue).filter(AssetDagRunQueue.target_dag_id == dag_id).count()


def _settle(*args: str) -> str:
    """What `make airflow-ui` runs before its scheduler starts, on this Airflow home."""
    result = subprocess.run([sys.executable, "-m", "retention.queued_asset_events", *args],
                            env=os.environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.emulator
def test_asset_events_the_demo_left_queued_are_dropped_at_ui_start_unless_asked(airflow_db, warehouse):
    """What an operator saw: after `make demo`, `make airflow-ui`'s scheduler ran churn_weekly
    again for the events of weeks the demo had already run, unasked."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    # The Airflow home is shared with the other DAG tests, whose runs queue events too: start
    # from the queue as a fresh `make demo` would leave it, with this one run's event only.
    with create_session() as session:
        session.query(AssetDagRunQueue).delete()
    telco_ingest = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "telco_ingest.py")).dags["telco_ingest"]
    run = telco_ingest.test(logical_date=pendulum.datetime(2026, 11, 23, 4, tz="Asia/Seoul"))  # as the demo does
    assert str(run.state) == "success"
    assert _queued("churn_weekly") == 1  # what the scheduler would turn into a churn_weekly run

    kept = _settle("--replay")  # RETENTION_AIRFLOW_REPLAY_QUEUED_EVENTS=1 make airflow-ui
    assert "Kept the queued asset events of churn_weekly" in kept and _queued("churn_weekly") == 1

    said = _settle()
    assert "Dropped the queued asset events of churn_weekly on retention://core/customers" in said, said
    assert "from telco_ingest" in said and "RETENTION_AIRFLOW_REPLAY_QUEUED_EVENTS=1" in said
    assert _queued("churn_weekly") == 0
    assert "churn_weekly" not in _settle()  # nothing left: a second start says nothing about it
