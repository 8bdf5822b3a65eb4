"""Asset events queued before `make airflow-ui`'s scheduler starts: those that only `airflow dags
test` runs (`make demo`) left are dropped, unless asked to keep them.

    python -m retention.queued_asset_events [--replay]   # with AIRFLOW_HOME of the home to settle

Every DAG run that publishes an asset queues a run of the DAGs scheduled on it
(`asset_dag_run_queue`); `airflow dags test` does too, with no scheduler to consume the queue.
The demo runs those downstream DAGs itself, week by week, so a scheduler starting later would
run them all again, unasked. `RETENTION_AIRFLOW_REPLAY_QUEUED_EVENTS=1 make airflow-ui` keeps
them (`--replay`).
"""

from __future__ import annotations

import datetime as dt
import sys

REPLAY_VARIABLE = "RETENTION_AIRFLOW_REPLAY_QUEUED_EVENTS"


def settle_queued_asset_events(*, replay: bool) -> list[str]:
    """Drop the queued asset events (`asset_dag_run_queue`) that only `airflow dags test` runs
    produced, unless `replay`; returns what it did, one line per queued DAG. Runs in a process
    whose Airflow settings are those of the home to settle (no scheduler running on it).

    A DAG scheduled on an asset has a queue row from the first event since its last
    asset-triggered run; the events it would consume are those since then. When every one came
    from a `dags test` run (the demo, which ran that DAG itself), the row is stale."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    said = []
    with create_session() as session:
        queued = session.query(AssetDagRunQueue, AssetModel.uri).join(
            AssetModel, AssetModel.id == AssetDagRunQueue.asset_id).all()
        for item, uri in queued:
            # The event that queued the row is stamped a moment before the row itself.
            since = item.created_at - dt.timedelta(minutes=1)
            sources = session.query(AssetEvent.source_dag_id, DagRun.triggered_by).outerjoin(
                DagRun, (DagRun.dag_id == AssetEvent.source_dag_id) & (DagRun.run_id == AssetEvent.source_run_id),
            ).filter(AssetEvent.asset_id == item.asset_id, AssetEvent.timestamp >= since).all()
            from_tests = bool(sources) and all(by == DagRunTriggeredByType.TEST for _, by in sources)
            what = (f"{item.target_dag_id} on {uri}: {len(sources)} event(s) since "
                    f"{item.created_at:%Y-%m-%d %H:%M} UTC from {', '.join(sorted({s for s, _ in sources if s}))}")
            if from_tests and not replay:
                session.delete(item)
                said.append(f"Dropped the queued asset events of {what} (`airflow dags test` runs: `make demo` ran "
                            f"{item.target_dag_id} itself). {REPLAY_VARIABLE}=1 make airflow-ui keeps them.")
            else:
                said.append(f"Kept the queued asset events of {what}: the scheduler runs {item.target_dag_id} "
                            "for them now.")
    return said


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m retention.queued_asset_events", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replay", action="store_true", help="keep them all: the scheduler will run them")
    args = parser.parse_args(argv)
    for line in settle_queued_asset_events(replay=args.replay):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
