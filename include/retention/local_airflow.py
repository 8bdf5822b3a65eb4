"""Airflow on this machine: its settings for local runs, `make airflow-ui` and `make backfill`.

    python -m retention.local airflow-ui     # the UI, scheduler, DAG processor, triggerer
    python -m retention.local backfill ...   # through the scheduler of a running airflow-ui

`make airflow-ui` starts the four Airflow components itself (what `airflow standalone` starts,
LocalExecutor on SQLite) so that it controls where they listen: the API server with the UI on
`RETENTION_AIRFLOW_HOST` (default 127.0.0.1; 0.0.0.0 widens it to every interface) and
`RETENTION_AIRFLOW_PORT` (8080). Airflow's log servers (which serve a worker's task logs to an
API server on another machine, and bind every interface) are not needed here, where all
components share one log folder, and are off unless `RETENTION_AIRFLOW_WORKER_LOG_PORT` /
`RETENTION_AIRFLOW_TRIGGERER_LOG_PORT` name their ports.

Before its scheduler starts, asset events that `airflow dags test` runs (`make demo`) left
queued are dropped (`retention.queued_asset_events`; `RETENTION_AIRFLOW_REPLAY_QUEUED_EVENTS=1`
keeps them). `make backfill` is refused when no scheduler runs on the local Airflow home.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from retention.config import PROJECT_ROOT
from retention.queued_asset_events import REPLAY_VARIABLE

PORT_VARIABLE = "RETENTION_AIRFLOW_PORT"
HOST_VARIABLE = "RETENTION_AIRFLOW_HOST"
WORKER_LOG_PORT_VARIABLE = "RETENTION_AIRFLOW_WORKER_LOG_PORT"
TRIGGERER_LOG_PORT_VARIABLE = "RETENTION_AIRFLOW_TRIGGERER_LOG_PORT"
DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"


def airflow_executable() -> str:
    return str(Path(sys.executable).parent / "airflow")


def airflow_environment(airflow_home: Path) -> dict[str, str]:
    """Airflow settings for local runs: project DAGs, no examples, sized for 2 cores."""
    return {
        # Airflow's components are started as `airflow ...` from PATH: the project's virtual
        # environment must come first even when it is not activated (make, CI).
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__PARSING_PROCESSES": "1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }


def run_airflow(args: list[str], env: dict[str, str], log_file: Path) -> int:
    with log_file.open("w") as out:
        return subprocess.call([airflow_executable(), *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def create_pools(env: dict[str, str], logs: Path) -> bool:
    """The pools the DAGs use (`retention.operations.POOLS`), created or updated in one call."""
    import json

    from retention.operations import POOLS

    pools = logs / "pools.json"
    pools.write_text(json.dumps({name: {"slots": slots, "description": about, "include_deferred": False}
                                 for name, (slots, about) in POOLS.items()}))
    return run_airflow(["pools", "import", str(pools)], env, logs / "airflow-pools.log") == 0


# --- where the UI listens ---------------------------------------------------------------------


def _port(variable: str, default: int | None) -> int | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{variable}={value!r} is not a port number: set it to e.g. {default or 8793}, or unset it")
    return int(value)


def airflow_port() -> int:
    """The API server's (and the UI's) port: `RETENTION_AIRFLOW_PORT`, default 8080."""
    return _port(PORT_VARIABLE, DEFAULT_PORT)


@dataclass(frozen=True)
class Listening:
    host: str
    port: int
    worker_log_port: int | None
    triggerer_log_port: int | None

    @classmethod
    def from_env(cls) -> Listening:
        return cls(host=os.environ.get(HOST_VARIABLE, "").strip() or DEFAULT_HOST, port=airflow_port(),
                   worker_log_port=_port(WORKER_LOG_PORT_VARIABLE, None),
                   triggerer_log_port=_port(TRIGGERER_LOG_PORT_VARIABLE, None))

    @property
    def url(self) -> str:
        """Where Airflow's own processes (and this machine's browser) reach the API server."""
        local = DEFAULT_HOST if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{local}:{self.port}"

    def environment(self) -> dict[str, str]:
        """Task workers call the execution API under `base_url`: it must name the same host and port."""
        env = {"AIRFLOW__API__HOST": self.host, "AIRFLOW__API__PORT": str(self.port), "AIRFLOW__API__BASE_URL": self.url}
        if self.worker_log_port:
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(self.worker_log_port)
        if self.triggerer_log_port:
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(self.triggerer_log_port)
        return env

    def components(self) -> dict[str, list[str]]:
        """The Airflow components to start (what `airflow standalone` runs), by name."""
        return {
            "api-server": ["api-server"],
            "scheduler": ["scheduler", *([] if self.worker_log_port else ["--skip-serve-logs"])],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", *([] if self.triggerer_log_port else ["--skip-serve-logs"])],
        }

    def ports(self) -> list[tuple[str, int]]:
        return [(name, port) for name, port in ((PORT_VARIABLE, self.port),
                                                (WORKER_LOG_PORT_VARIABLE, self.worker_log_port),
                                                (TRIGGERER_LOG_PORT_VARIABLE, self.triggerer_log_port)) if port]


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- make airflow-ui ----------------------------------------------------------------------------


def airflow_ui() -> int:
    """Start the local BigQuery and Airflow's components on the project's DAGs until Ctrl-C."""
    from retention.local import input_environment, local_bigquery, local_state_dir

    airflow_home = local_state_dir() / "airflow"
    listening = Listening.from_env()
    for variable, port in listening.ports():
        if _port_in_use(port):
            # Otherwise the component fails on its own a minute later, in the middle of its log.
            print(f"Port {port} is in use (another `make airflow-ui`?): stop that, or choose another port with "
                  f"{variable}={port + 1} make airflow-ui")
            return 1
    with local_bigquery() as bq_env:
        env = {**os.environ, **airflow_environment(airflow_home), **listening.environment(), **bq_env,
               **input_environment()}
        logs = local_state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # The pools the DAGs use must exist before the scheduler starts: a task in a missing
        # pool is never scheduled.
        if run_airflow(["db", "migrate"], env, logs / "airflow-db-migrate.log") != 0 or not create_pools(env, logs):
            print(f"Airflow could not prepare its database or pools; see {logs}")
            return 1
        # In a process of its own: Airflow reads its settings (this home's database) when imported.
        settled = subprocess.run([sys.executable, "-m", "retention.queued_asset_events",
                                  *(["--replay"] if os.environ.get(REPLAY_VARIABLE) == "1" else [])],
                                 env=env, capture_output=True, text=True)
        if settled.returncode != 0:
            print(f"Could not read Airflow's queued asset events:\n{settled.stderr[-2000:]}")
            return 1
        print(settled.stdout, end="")
        wide = "" if listening.host == DEFAULT_HOST else f" (listening on {listening.host}: {HOST_VARIABLE})"
        print(f"Starting Airflow on {listening.url}{wide}, user admin, password in "
              f"{_admin_password_file(airflow_home)}. Each component's log: "
              f"{logs}/airflow-<component>.log. Ctrl-C stops Airflow and the emulator.", flush=True)
        processes: dict[str, subprocess.Popen] = {}
        try:
            _start_components(listening, env, logs, processes)
            return _watch(processes, listening, logs)
        except KeyboardInterrupt:
            return 130
        finally:
            _stop(processes)


def _start_components(listening: Listening, env: dict[str, str], logs: Path,
                      processes: dict[str, subprocess.Popen]) -> None:
    """Every component in one process group of its own: stopping this command stops them all.
    The API server first, and the others once it answers: tasks report to its execution API, and
    a task the scheduler starts before it listens fails (`airflow standalone` starts all at once)."""
    for name, args in listening.components().items():
        group = next(iter(processes.values())).pid if processes else 0
        with (logs / f"airflow-{name}.log").open("ab") as log:
            processes[name] = subprocess.Popen([airflow_executable(), *args], env=env, stdout=log,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               process_group=group)
        if name == "api-server":
            while processes[name].poll() is None and not _answers(listening.url):
                time.sleep(1)


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v2/version", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # it answers, if only to say who may ask
    except OSError:
        return False


def _admin_password_file(airflow_home: Path) -> Path:
    """The simple auth manager's password file, written here when missing: the API server would
    generate the password itself, and print it into its log."""
    import json
    import secrets

    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(json.dumps({"admin": secrets.token_urlsafe(12)}))
    return path


def _watch(processes: dict[str, subprocess.Popen], listening: Listening, logs: Path) -> int:
    """Until Ctrl-C: say once when the UI answers healthy; a component that exits ends the command."""
    import json
    import urllib.request

    ready = False
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                tail = (logs / f"airflow-{name}.log").read_text(errors="replace").splitlines()[-15:]
                print(f"Airflow's {name} exited with code {process.returncode}; its log ({logs}/airflow-{name}.log) "
                      "ends:\n" + "\n".join(tail))
                return process.returncode or 1
        if not ready:
            try:
                with urllib.request.urlopen(f"{listening.url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
                ready = all(health[part]["status"] == "healthy" for part in ("metadatabase", "scheduler"))
            except (OSError, KeyError, ValueError):
                pass
            if ready:
                print(f"Airflow is ready: {listening.url}", flush=True)
        time.sleep(2)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    """Stop the components and everything they started: their process group, then the task
    processes, which Airflow puts in groups of their own (to signal a task's subprocesses), so
    the group signal misses them and they would run on, orphaned, after Ctrl-C."""
    import psutil

    if not processes:
        return
    group = next(iter(processes.values())).pid
    tree: dict[int, psutil.Process] = {}

    def remember_tree() -> None:
        for process in processes.values():
            try:
                for child in psutil.Process(process.pid).children(recursive=True):
                    tree.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                pass

    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        remember_tree()
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        remember_tree()  # a task started as the signal went out is still a child of its worker
        deadline = time.monotonic() + grace
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        try:  # every component gone: make sure the group is too
            os.killpg(group, 0)
        except ProcessLookupError:
            break
    _, left = psutil.wait_procs(tree.values(), timeout=5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for leftover in left:
            try:
                leftover.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, left = psutil.wait_procs(left, timeout=10)


# --- make backfill ------------------------------------------------------------------------------


def scheduler_running(env: dict[str, str]) -> bool:
    """Whether a scheduler heartbeats on the Airflow home of `env` (`airflow jobs check`)."""
    result = subprocess.run([airflow_executable(), "jobs", "check", "--job-type", "SchedulerJob"], env=env,
                            capture_output=True, text=True)
    return result.returncode == 0


def backfill(dag_id: str, from_date: dt.date, to_date: dt.date) -> int:
    """Ask the scheduler of the running `airflow-ui` to backfill a date range; refused (exit 1,
    nothing created) when no scheduler runs there, since nothing else would ever run it."""
    from retention.local import local_state_dir

    airflow_home = local_state_dir() / "airflow"
    env = {**os.environ, **airflow_environment(airflow_home)}
    if not scheduler_running(env):
        print(f"No Airflow scheduler is running on {airflow_home}, and only a scheduler runs a backfill: nothing "
              "was created. Start one with `make airflow-ui` in another shell, wait for \"Airflow is ready\", then "
              "run this again.", file=sys.stderr)
        return 1
    # Weeks one at a time, in order: each week's checks compare it with the week before.
    # Dates are Seoul days, so the Monday 04:00 KST run of `from_date` is inside the range.
    command = [
        airflow_executable(), "backfill", "create", "--dag-id", dag_id,
        "--from-date", f"{from_date.isoformat()}T00:00:00+09:00", "--to-date", f"{to_date.isoformat()}T23:59:59+09:00",
        "--reprocess-behavior", "completed", "--max-active-runs", "1",
    ]
    return subprocess.call(command, env=env)
