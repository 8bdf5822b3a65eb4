"""The weekly cycle on the native cluster, as the cluster e2e test drives and checks it: Airflow's
own tables in the cluster's PostgreSQL (run states, task tries, the scheduler's log of events),
a Celery worker killed with SIGKILL in the middle of a task, and the warehouse the tasks wrote.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import psutil

KST = dt.timezone(dt.timedelta(hours=9))
CYCLE_SECONDS = 2400  # two weeks through ingest, churn (training twice) and outreach, under load


def latest_monday(now: dt.datetime | None = None) -> dt.datetime:
    """telco_ingest's latest scheduled time (Mondays 04:00 KST)."""
    now = now or dt.datetime.now(KST)
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=4, minute=0, second=0, microsecond=0)
    return monday if monday <= now else monday - dt.timedelta(weeks=1)


def latest_first_of_month(now: dt.datetime | None = None) -> dt.datetime:
    """places_refresh's latest scheduled time (the 1st, 03:00 KST)."""
    now = now or dt.datetime.now(KST)
    first = now.replace(day=1, hour=3, minute=0, second=0, microsecond=0)
    return first if first <= now else (first - dt.timedelta(days=1)).replace(day=1)


class AirflowDatabase:
    """Read-only queries on the cluster's metadata database (Airflow's own account of the runs)."""

    def __init__(self, port: int, password: str) -> None:
        self.port, self.password = port, password

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", password=self.password,
                              dbname="airflow", connect_timeout=10) as db, db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def runs(self, dag_id: str) -> list[tuple[str, str, str]]:
        """(run_id, run_type, state) of every run of `dag_id`, oldest first."""
        return self.query("SELECT run_id, run_type, state FROM dag_run WHERE dag_id = %s ORDER BY id", (dag_id,))

    def settled(self, dag_ids: tuple[str, ...]) -> bool:
        """No run of these DAGs queued or running, and no asset event waiting to start one."""
        active = self.query("SELECT COUNT(*) FROM dag_run WHERE dag_id = ANY(%s) AND state IN ('queued', 'running')",
                            (list(dag_ids),))[0][0]
        waiting = self.query("SELECT COUNT(*) FROM asset_dag_run_queue WHERE target_dag_id = ANY(%s)",
                             (list(dag_ids),))[0][0]
        return active == 0 and waiting == 0

    def wait_for_success(self, dag_id: str, seconds: float) -> None:
        """Until a run of `dag_id` has succeeded; fails at once when one fails."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = [state for _, _, state in self.runs(dag_id)]
            assert "failed" not in states, f"a run of {dag_id} failed: {self.runs(dag_id)}"
            if "success" in states:
                return
            time.sleep(5)
        raise AssertionError(f"no run of {dag_id} succeeded within {seconds:.0f}s: {self.runs(dag_id)}")

    def running_task(self, dag_id: str, task_id: str) -> tuple[str, int, int] | None:
        """(run_id, map_index, pid) of a try of `task_id` running now, if any."""
        rows = self.query("SELECT run_id, map_index, pid FROM task_instance WHERE dag_id = %s AND task_id = %s "
                          "AND state = 'running' AND pid IS NOT NULL ORDER BY map_index LIMIT 1", (dag_id, task_id))
        return rows[0] if rows else None


def worker_of(pid: int, cluster_pid: int) -> psutil.Process | None:
    """The Celery worker (a direct child of the cluster command) that `pid` runs under."""
    try:
        process = psutil.Process(pid)
        while process.ppid() not in (cluster_pid, 0, 1):
            process = process.parent()
        return process if process.ppid() == cluster_pid else None
    except (psutil.NoSuchProcess, AttributeError):
        return None


def kill_worker_mid_task(database: AirflowDatabase, cluster_pid: int, dag_id: str, task_id: str,
                         timeout: float) -> dict:
    """Wait for a try of `task_id` to run, then SIGKILL its Celery worker and everything under it
    (the pool's processes, the task's supervisor, the task): a worker lost with its host, which
    can say nothing to anyone. Returns what was killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = database.running_task(dag_id, task_id)
        worker = running and worker_of(running[2], cluster_pid)
        if worker:
            tree = [worker, *worker.children(recursive=True)]
            title = " ".join(worker.cmdline())  # Celery's process title names its --celery-hostname
            name = next((word.split("@")[0] for word in title.split() if word.startswith("airflow-worker-")),
                        str(worker.pid))
            for process in tree:
                try:
                    os.kill(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return {"run_id": running[0], "map_index": running[1], "task_pid": running[2], "worker": name,
                    "killed": len(tree), "at": time.monotonic()}
        time.sleep(0.5)
    raise AssertionError(f"no try of {dag_id}.{task_id} was seen running within {timeout:.0f}s")


def celery_lines(logs: Path, *needles: str) -> list[str]:
    """The workers' `Executing workload in Celery` lines that name every needle."""
    return [line for path in logs.glob("airflow-worker-*.log")
            for line in path.read_text(errors="replace").splitlines()
            if "Executing workload in Celery" in line and all(needle in line for needle in needles)]


def check_the_weekly_cycle(emulator_port: int, local_dir: Path, week: dt.date) -> dict:
    """What the cycle left in the warehouse and the SMS sink: every customer of the week scored
    once (no shard lost or doubled by the killed worker), every run audited as a success, and at
    most one message per customer per campaign, each sent once. Returns the counts."""
    import json
    from collections import Counter

    from retention.config import LOCAL_PROJECT, Settings
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect(Settings(
        project=LOCAL_PROJECT, location="US", dataset_prefix="", gcp_conn_id="google_cloud_default",
        emulator_host=f"http://127.0.0.1:{emulator_port}", telco_snapshot_source="synthetic", storage_read="off"))

    def one(sql: str) -> dict:
        return warehouse.rows(sql, {"week": week}, source="cluster e2e check")[0]

    scores = one("SELECT (SELECT COUNT(*) FROM `{{ core }}.customers` WHERE snapshot_date = @week) AS customers, "
                 "COUNT(*) AS scored, COUNT(DISTINCT customer_id) AS distinct_scored, "
                 "COUNTIF(newly_at_risk) AS newly_at_risk FROM `{{ ml }}.churn_scores` WHERE snapshot_date = @week")
    assert scores["customers"] > 0 and scores["scored"] == scores["distinct_scored"] == scores["customers"], scores
    assert scores["newly_at_risk"] > 0, scores

    audit = warehouse.rows("SELECT dag_id, run_id, outcome, retried_tries FROM `{{ ops }}.run_audit`",
                           source="cluster e2e audit")
    assert {row["dag_id"] for row in audit} >= {"places_refresh", "telco_ingest", "churn_weekly", "senior_outreach"}
    assert {row["outcome"] for row in audit} <= {"success", "success_with_warnings"}, audit

    outbox = one("SELECT COUNT(*) AS messages, COUNT(DISTINCT CONCAT(campaign_id, '/', customer_id)) AS messaged, "
                 "COUNTIF(state IN ('sent', 'delivered')) AS sent FROM `{{ outreach }}.messages`")
    assert outbox["messages"] > 0 and outbox["messages"] == outbox["messaged"], outbox
    sink = local_dir / "outbox" / "sms.jsonl"
    records = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()] if sink.exists() else []
    per_message = Counter(record["idempotency_key"] for record in records)
    assert per_message and set(per_message.values()) == {1}, per_message.most_common(3)
    assert len(records) == outbox["sent"], (len(records), outbox)
    return {**scores, **outbox, "sms": len(records), "audited_runs": len(audit)}
