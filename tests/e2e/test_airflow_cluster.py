"""`make airflow-cluster` as an operator meets it: PostgreSQL, Redis, the API server, scheduler,
DAG processor, triggerer and two Celery workers started natively from docker-compose.yaml's
settings; the UI's roles enforced over the REST API; the weekly cycle on the Celery workers
(places_refresh, then two weeks of telco_ingest triggered through the API, churn_weekly and
senior_outreach started by the scheduler from their Assets), with one worker SIGKILLed in the
middle of a scoring shard and the lost try recovered by the scheduler's heartbeat timeout and a
retry; SIGTERM stops everything; a second start finds the same users, runs and database again,
and stops clean too.

One cluster for all of it: starting one takes minutes on this machine. It runs with a local
directory and ports of its own, so it never touches `.local/` or another Airflow on this machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from cluster_cycle import (CYCLE_SECONDS, AirflowDatabase, celery_lines, check_the_weekly_cycle, kill_worker_mid_task,
                           latest_first_of_month, latest_monday)

from retention.emulator import free_port

pytestmark = [pytest.mark.airflow]

STARTUP_SECONDS = 600  # a fresh database on a busy 2-core machine: 288 s measured under load 20
RUN_SECONDS = 900
STOP_SECONDS = 120
KST = dt.timezone(dt.timedelta(hours=9))
# Small on purpose: the demo's synthetic history (about 7,800 customers a week) in three scoring
# shards, so a shard is running long enough to kill its worker; a lost task detected after 90 s
# (Airflow's default: 300) and retried 5 s later (the platform's default: 300).
HEARTBEAT_TIMEOUT_SECONDS = 90
CYCLE_ENVIRONMENT = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
    "RETENTION_RETRY_DELAY_SECONDS": "5",
    "RETENTION_SCORING_SHARD_ROWS": "3000",
}
CYCLE_DAGS = ("places_refresh", "telco_ingest", "churn_weekly", "senior_outreach")


class RunningCluster:
    """`python -m retention.cluster` as a child process; every process of its tree remembered."""

    def __init__(self, local_dir: Path, ports: dict[str, int]) -> None:
        self.local_dir, self.ports = local_dir, ports
        self.url = f"http://127.0.0.1:{ports['api']}"
        self.log_path = local_dir.parent / "cluster.log"
        self.process: subprocess.Popen | None = None
        self.log_offset = 0
        self.seen: dict[int, float] = {}

    def start(self) -> None:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("AIRFLOW", "BIGQUERY_", "RETENTION_"))}
        env.update({
            "RETENTION_LOCAL_DIR": str(self.local_dir), "RETENTION_AIRFLOW_PORT": str(self.ports["api"]),
            "RETENTION_EMULATOR_PORT": str(self.ports["emulator"]),
            "RETENTION_CLUSTER_POSTGRES_PORT": str(self.ports["postgres"]),
            "RETENTION_CLUSTER_REDIS_PORT": str(self.ports["redis"]),
            **CYCLE_ENVIRONMENT,
            # The outreach acts at 10:00 KST on the latest week's Monday (the local sink's simulated
            # clock, as `make demo` uses it): inside the send window whenever the test runs.
            "RETENTION_OUTREACH_SIMULATED_NOW": latest_monday().replace(hour=10).isoformat(),
        })
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "retention.cluster"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def remember(self) -> None:
        try:
            root = psutil.Process(self.process.pid)
            for each in (root, *root.children(recursive=True)):
                self.seen.setdefault(each.pid, each.create_time())
        except psutil.NoSuchProcess:
            pass

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            self.remember()
            if self.process.poll() is not None:
                pytest.fail(f"the cluster exited with code {self.process.returncode}:\n{self.log_tail()}")
            if "Ctrl-C stops everything" in self.log_path.read_text(errors="replace")[self.log_offset:]:
                self.remember()
                return
            time.sleep(2)
        pytest.fail(f"the cluster was not up within {STARTUP_SECONDS}s:\n{self.log_tail()}")

    def components(self) -> set[str]:
        names = set()
        for pid in self.seen:
            try:
                command = " ".join(psutil.Process(pid).cmdline())
            except psutil.NoSuchProcess:
                continue
            command = command.replace("api_server", "api-server")  # its title once it runs
            for needle in ("postgres", "redis-server", "bqemulator", "api-server", "scheduler", "dag-processor",
                           "triggerer", "celery worker"):
                if needle in command:
                    names.add(needle)
        return names

    def stop(self) -> list[str]:
        """SIGTERM, as `kill` or a service manager stops it; returns what was left running."""
        if self.process is None or self.process.poll() is not None:
            return []
        self.remember()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        left = []
        for pid, created in self.seen.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(" ".join(process.cmdline())[:120])
                    process.kill()
            except psutil.NoSuchProcess:
                pass
        return left

    # -- the REST API, as each platform user ------------------------------------------------------

    def users(self) -> dict[str, str]:
        path = self.local_dir / "cluster" / "secrets" / "airflow_users.json"
        return {user["role"]: (user["username"], user["password"]) for user in json.loads(path.read_text())}

    def token(self, role: str) -> str:
        username, password = self.users()[role]
        status, body = self.call("POST", "/auth/token", {"username": username, "password": password})
        assert status == 201, (role, status, body)
        return body["access_token"]

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read()[:300]

    def state_of(self, run_id: str, token: str, dag_id: str = "telco_ingest") -> str | None:
        """The run's state, or None while the API server is too busy to answer (a loaded host)."""
        try:
            return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=token)[1]["state"]
        except (TimeoutError, urllib.error.URLError, TypeError, KeyError):
            return None

    def trigger(self, dag_id: str, logical_date: dt.datetime, token: str) -> str:
        run_id = f"cluster-e2e-{uuid.uuid4().hex[:8]}"
        status, body = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                                 {"dag_run_id": run_id, "logical_date": logical_date.astimezone(dt.UTC).isoformat()},
                                 token)
        assert status == 200, (dag_id, body)
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, token: str, seconds: float = RUN_SECONDS) -> None:
        deadline, state = time.monotonic() + seconds, None
        while time.monotonic() < deadline:
            self.remember()
            state = self.state_of(run_id, token, dag_id)
            if state in ("success", "failed"):
                break
            time.sleep(5)
        assert state == "success", f"{dag_id} {run_id} ended {state}:\n{self.log_tail()}"


@pytest.fixture
def cluster():
    # Not pytest's tmp_path: its parent is private to root, and PostgreSQL runs as the
    # `postgres` user under root; this folder lets it through without listing it.
    folder = Path(tempfile.mkdtemp(prefix="retention-cluster-test-"))
    folder.chmod(0o711)
    ports = {name: free_port() for name in ("api", "emulator", "postgres", "redis")}
    running = RunningCluster(folder / "local", ports)
    yield running
    running.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_the_native_cluster_runs_the_weekly_cycle_on_celery_recovers_a_killed_worker_and_survives_a_restart(cluster):
    cluster.start()
    cluster.wait_healthy()
    assert cluster.components() >= {"postgres", "redis-server", "bqemulator", "api-server", "scheduler",
                                    "dag-processor", "triggerer", "celery worker"}
    workers = [child for child in psutil.Process(cluster.process.pid).children()
               if "celery worker" in " ".join(child.cmdline())]
    assert len(workers) == 2, "two Celery workers"

    admin, engineer, marketer = (cluster.token(role) for role in ("admin", "data_engineer", "marketer"))
    # Marketers read, never operate; only admins edit connections.
    assert cluster.call("GET", "/api/v2/dags/telco_ingest", token=marketer)[0] == 200
    assert cluster.call("PATCH", "/api/v2/dags/telco_ingest", {"is_paused": False}, marketer)[0] == 403
    connection = {"connection_id": f"e2e_{uuid.uuid4().hex[:8]}", "conn_type": "http", "host": "127.0.0.1"}
    assert cluster.call("POST", "/api/v2/connections", connection, engineer)[0] == 403
    assert cluster.call("POST", "/api/v2/connections", connection, admin)[0] == 201
    assert cluster.call("DELETE", f"/api/v2/connections/{connection['connection_id']}", token=admin)[0] == 204

    # The weekly cycle, as an operator starts it: the places outreach points to, then two weeks
    # of telco_ingest (the second week's scores are compared with the first's: its newly at-risk
    # seniors get an SMS), triggered through the REST API for their scheduled times (so the
    # scheduler, once they are unpaused, adds no run of its own). churn_weekly and
    # senior_outreach are started by the scheduler from their Assets.
    # telco_ingest runs one week at a time (max_active_runs=1), the older first.
    places_run = cluster.trigger("places_refresh", latest_first_of_month(), engineer)
    week = latest_monday()
    first_week_run = cluster.trigger("telco_ingest", week - dt.timedelta(weeks=1), engineer)
    run_id = cluster.trigger("telco_ingest", week, engineer)
    for dag_id in ("places_refresh", "telco_ingest", "churn_weekly"):
        assert cluster.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, engineer)[0] == 200
    cluster.wait_for_run("places_refresh", places_run, marketer)

    # A worker lost in the middle of a scoring shard: nothing of it is left to report the task.
    password = (cluster.local_dir / "cluster" / "secrets" / "postgres_password").read_text()
    airflow_db = AirflowDatabase(cluster.ports["postgres"], password)
    killed = kill_worker_mid_task(airflow_db, cluster.process.pid, "churn_weekly", "score_customers", CYCLE_SECONDS)
    cluster.wait_for_run("telco_ingest", first_week_run, marketer)
    # senior_outreach is unpaused once the first scores and marts are published: unpausing it
    # starts its latest hourly run at once, which reads core.customer_presence (a marts view),
    # and fails before churn_weekly has run once. The first week has no newly at-risk customers
    # (nothing to compare with), so its outreach event is not needed.
    airflow_db.wait_for_success("churn_weekly", CYCLE_SECONDS)
    assert cluster.call("PATCH", "/api/v2/dags/senior_outreach", {"is_paused": False}, engineer)[0] == 200
    cluster.wait_for_run("telco_ingest", run_id, marketer)
    deadline = time.monotonic() + CYCLE_SECONDS
    while time.monotonic() < deadline and not (
            airflow_db.settled(CYCLE_DAGS)
            and any(run_type == "asset_triggered" for _, run_type, _ in airflow_db.runs("senior_outreach"))):
        cluster.remember()
        time.sleep(10)
    runs = {dag_id: airflow_db.runs(dag_id) for dag_id in CYCLE_DAGS}
    assert all(state == "success" for dag_runs in runs.values() for _, _, state in dag_runs), runs
    churn_runs = [run for run, run_type, _ in runs["churn_weekly"] if run_type == "asset_triggered"]
    outreach_runs = [run for run, run_type, _ in runs["senior_outreach"] if run_type == "asset_triggered"]
    assert churn_runs and outreach_runs, runs
    assert {run for run, _, _ in runs["churn_weekly"]} == set(churn_runs), "churn_weekly ran from its Asset only"

    # Airflow recovered the lost try by itself: the scheduler failed it for want of heartbeats
    # ([scheduler] task_instance_heartbeat_timeout), the retry ran on a live worker, and the
    # cluster started the lost worker again (Compose's `restart: always`).
    try_number, state = airflow_db.query(
        "SELECT try_number, state FROM task_instance WHERE dag_id = 'churn_weekly' AND task_id = 'score_customers' "
        "AND run_id = %s AND map_index = %s", (killed["run_id"], killed["map_index"]))[0]
    assert (state, try_number >= 2) == ("success", True), killed
    assert airflow_db.query(
        "SELECT COUNT(*) FROM log WHERE event = 'heartbeat timeout' AND dag_id = 'churn_weekly' "
        "AND task_id = 'score_customers' AND run_id = %s AND map_index = %s",
        (killed["run_id"], killed["map_index"]))[0][0] >= 1, killed
    logs = cluster.local_dir / "cluster" / "logs"
    assert "TIs without heartbeat" in (logs / "airflow-scheduler.log").read_text(errors="replace")
    assert "exited with code -9: starting it again" in cluster.log_path.read_text(errors="replace")

    # Every task of the runs went through a Celery worker; a worker's log shows the churn tasks.
    assert len(celery_lines(logs, f"run_id={run_id}")) >= 7, "every task of the week went through a worker"
    assert celery_lines(logs, "churn_weekly", "score_customers"), "a worker's log shows a scoring shard"
    for churn_run in churn_runs:
        assert celery_lines(logs, "churn_weekly", churn_run), f"churn_weekly {churn_run} ran on the workers"

    # The warehouse the tasks wrote, read through the cluster's emulator.
    print("the weekly cycle on the cluster:", killed,
          check_the_weekly_cycle(cluster.ports["emulator"], cluster.local_dir, week.date()))

    # Airflow's tables are in the cluster's PostgreSQL, with the runs and the FAB users.
    assert airflow_db.query("SELECT state FROM dag_run WHERE run_id = %s", (run_id,)) == [("success",)]
    assert [row[0] for row in airflow_db.query("SELECT username FROM ab_user ORDER BY username")] == [
        "admin", "engineer", "marketer"]
    assert cluster.stop() == [], "SIGTERM left processes running"
    secrets = cluster.local_dir / "cluster" / "secrets"
    values = [path.read_text() for path in secrets.iterdir() if not path.name.endswith(".json")]
    values += [password for _, password in cluster.users().values()]
    for log in [cluster.log_path, *(cluster.local_dir / "cluster").rglob("*.log")]:
        text = log.read_text(errors="replace")
        assert not [value for value in values if value in text], f"a password or key is in {log}"

    # Restarted: the same database, users and run; then stopped clean again.
    cluster.seen.clear()
    cluster.start()
    cluster.wait_healthy()
    status, body = cluster.call("GET", f"/api/v2/dags/telco_ingest/dagRuns/{run_id}", token=cluster.token("admin"))
    assert (status, body["state"]) == (200, "success")
    assert cluster.stop() == [], "SIGTERM left processes running after the restart"
