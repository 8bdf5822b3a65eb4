"""`make airflow-cluster` as an operator meets it: PostgreSQL, Redis, the API server, scheduler,
DAG processor, triggerer and two Celery workers started natively from docker-compose.yaml's
settings; the UI's roles enforced over the REST API; a telco_ingest week triggered through
it and run by a Celery worker; SIGTERM stops everything; a second start finds the same users,
runs and database again, and stops clean too.

The cluster runs with a local directory and ports of its own, so it never touches `.local/`
or another Airflow on this machine.
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

from retention.emulator import free_port

pytestmark = [pytest.mark.airflow]

STARTUP_SECONDS = 600  # a fresh database on a busy 2-core machine: 288 s measured under load 20
RUN_SECONDS = 900
STOP_SECONDS = 120
KST = dt.timezone(dt.timedelta(hours=9))


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

    def state_of(self, run_id: str, token: str) -> str | None:
        """The run's state, or None while the API server is too busy to answer (a loaded host)."""
        try:
            return self.call("GET", f"/api/v2/dags/telco_ingest/dagRuns/{run_id}", token=token)[1]["state"]
        except (TimeoutError, urllib.error.URLError):
            return None


def latest_scheduled_monday() -> dt.datetime:
    """telco_ingest's latest scheduled time (Mondays 04:00 KST): triggering that very run means
    the scheduler, once the DAG is unpaused, has no other run of its own to add."""
    now = dt.datetime.now(KST)
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=4, minute=0, second=0, microsecond=0)
    return monday if monday <= now else monday - dt.timedelta(weeks=1)


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


def test_the_native_cluster_runs_a_week_on_celery_enforces_roles_and_survives_a_restart(cluster):
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

    # A data engineer runs a week: triggered through the REST API, run by the Celery workers.
    run_id = f"cluster-e2e-{uuid.uuid4().hex[:8]}"
    week = latest_scheduled_monday().astimezone(dt.timezone.utc).isoformat()
    status, body = cluster.call("POST", "/api/v2/dags/telco_ingest/dagRuns",
                                {"dag_run_id": run_id, "logical_date": week}, engineer)
    assert status == 200, body
    assert cluster.call("PATCH", "/api/v2/dags/telco_ingest", {"is_paused": False}, engineer)[0] == 200
    deadline, state = time.monotonic() + RUN_SECONDS, None
    while time.monotonic() < deadline:
        cluster.remember()
        state = cluster.state_of(run_id, marketer)
        if state in ("success", "failed"):
            break
        time.sleep(5)
    assert state == "success", f"telco_ingest {run_id} ended {state}:\n{cluster.log_tail()}"
    logs = cluster.local_dir / "cluster" / "logs"
    worker_lines = [line for path in logs.glob("airflow-worker-*.log")
                    for line in path.read_text(errors="replace").splitlines()
                    if "Executing workload in Celery" in line and f"run_id={run_id}" in line]
    assert len(worker_lines) >= 7, "every task of the run went through a Celery worker"

    # Airflow's tables are in the cluster's PostgreSQL, with the run and the FAB users.
    import psycopg2

    password = (cluster.local_dir / "cluster" / "secrets" / "postgres_password").read_text()
    with psycopg2.connect(host="127.0.0.1", port=cluster.ports["postgres"], user="airflow", password=password,
                          dbname="airflow") as db, db.cursor() as cursor:
        cursor.execute("SELECT state FROM dag_run WHERE run_id = %s", (run_id,))
        assert cursor.fetchone() == ("success",)
        cursor.execute("SELECT username FROM ab_user ORDER BY username")
        assert [row[0] for row in cursor.fetchall()] == ["admin", "engineer", "marketer"]
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
