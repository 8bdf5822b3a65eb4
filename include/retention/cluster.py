"""The production shape, natively on this machine: docker-compose.yaml's services with its settings.

    python -m retention.cluster        # `make airflow-cluster`; Ctrl-C (or SIGTERM) stops everything

PostgreSQL and Redis from the distribution's packages (retention.cluster_stores), the local
BigQuery (as `make demo` uses it), then the compose file's airflow-init (retention.stack_init:
secrets refused if unsafe, database migrated, pools, users), API server, scheduler, DAG
processor, triggerer and two Celery workers. Each Airflow process gets the environment,
command and secrets Compose would give its container (retention.compose_settings), with
Celery chosen as the compose file's `celery` profile says, and the local-file secrets backend
of its development setting. What only the native run needs is in `native_extras`.

State lives under `.local/cluster/` (RETENTION_LOCAL_DIR moves `.local/`): the Postgres data,
Redis's snapshot, the generated secrets (`secrets/`: the UI's passwords are in
`airflow_users.json`), each component's log (`logs/`). A restart finds all of it again.
Ports: RETENTION_AIRFLOW_PORT (API and UI, default 8080), RETENTION_EMULATOR_PORT (9050),
RETENTION_CLUSTER_POSTGRES_PORT and RETENTION_CLUSTER_REDIS_PORT (default: free ones).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from retention.compose_settings import SECRETS_MOUNT, ComposeService, NativeLayout, load, secret_files
from retention.config import PROJECT_ROOT
from retention.emulator import free_port
from retention.local import local_bigquery, local_state_dir
from retention.local_airflow import airflow_port
from retention.stack_secrets import read

INIT = "airflow-init"
SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKER = "airflow-worker"
WORKERS = 2
STARTUP_SECONDS = 480
STOP_SECONDS = 60
RESTARTS = 3
"""Like the compose file's `restart: always`, a component that exits is started again (a few times)."""

# Compose's named volumes, natively: Airflow's logs with the cluster, the platform's state
# (artifacts, the SMS sink) where `make demo` keeps it, the warehouse where the emulator does.
NATIVE_VOLUMES = {"airflow-logs": "cluster/airflow-home/logs", "retention-state": ".",
                  "postgres-data": "cluster/postgres", "bigquery-data": "bigquery"}

# The compose file's development settings, which its comments name: Celery (the `celery`
# profile) and connections from the local-file secrets backend.
DEVELOPMENT_VARIABLES = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW_SECRETS_BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
    "AIRFLOW_SECRETS_BACKEND_KWARGS": json.dumps({"connections_file_path": f"{SECRETS_MOUNT}/airflow_connections.json"}),
}


def _port(variable: str) -> int:
    value = os.environ.get(variable)
    if value is None:
        return free_port()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{variable}={value!r} is not a port number: set it to e.g. 5433, or unset it")
    return int(value)


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Cluster:
    """The compose file's services as native process groups; a context manager that stops them all."""

    def __init__(self, local_dir: Path | None = None) -> None:
        self.local_dir = local_dir or local_state_dir()
        self.state = self.local_dir / "cluster"
        self.logs = self.state / "logs"
        self.compose = load()
        self.ports = {"api": airflow_port(), "postgres": _port("RETENTION_CLUSTER_POSTGRES_PORT"),
                      "redis": _port("RETENTION_CLUSTER_REDIS_PORT")}
        self.variables = {**os.environ, **DEVELOPMENT_VARIABLES,
                          "RETENTION_SECRETS_DIR": os.environ.get("RETENTION_SECRETS_DIR", str(self.state / "secrets"))}
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.seen: dict[int, float] = {}
        self.stores = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def secrets_dir(self) -> Path:
        return Path(self.variables["RETENTION_SECRETS_DIR"])

    def layout(self, service: str, emulator_port: int) -> NativeLayout:
        """Where the container's paths and the other services are, for `service`."""
        paths = {"/opt/airflow": self.state / "airflow-home", SECRETS_MOUNT: self.state / "run" / service / "secrets"}
        for volume in self.compose["x-airflow-common"]["volumes"]:
            source, target = volume.split(":")[:2]
            paths[target] = ((PROJECT_ROOT / source).resolve() if source.startswith(".")
                             else (self.local_dir / NATIVE_VOLUMES[source]).resolve())
        hosts = {"postgres:5432": self.ports["postgres"], "redis:6379": self.ports["redis"],
                 "airflow-apiserver:8080": self.ports["api"], "bigquery-emulator:9050": emulator_port}
        return NativeLayout(paths=paths, hosts=hosts)

    def mount_secrets(self, service: str) -> None:
        """Only the secrets the compose file gives `service`, as links in its own /run/secrets."""
        mount = self.state / "run" / service / "secrets"
        mount.mkdir(parents=True, exist_ok=True)
        for stale in mount.iterdir():
            stale.unlink()
        files = secret_files(self.compose, self.variables)
        for name in ComposeService(self.compose, service).secrets:
            (mount / name).symlink_to(files[name])  # Compose mounts each at /run/secrets/<name>

    def native_extras(self, name: str) -> dict[str, str]:
        """What only a native process needs: the project's virtual environment first on PATH, the
        API server on loopback (Compose publishes it on 127.0.0.1 only), and ports of its own for
        what every container binds on the same port (log servers, health)."""
        return {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "HOME": os.environ.get("HOME", str(self.state)),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.ports["api"]),
            "AIRFLOW__API__HOST": "127.0.0.1",
        }

    def process_spec(self, service: str, emulator_port: int, name: str | None = None) -> tuple[list[str], dict]:
        name = name or service
        compose_service = ComposeService(self.compose, service)
        layout = self.layout(service, emulator_port)
        env = {**compose_service.environment(self.variables, layout), **self.native_extras(name)}
        command = compose_service.command(self.variables, layout)
        executables = {"airflow": str(Path(sys.executable).parent / "airflow"), "python": sys.executable}
        command = [executables.get(command[0], command[0]), *command[1:]]
        if "--port" in command:
            command[command.index("--port") + 1] = str(self.ports["api"])
        if service == WORKER:  # one host, so each worker names itself (Compose: one container each)
            command += ["--celery-hostname", f"{name}@%h"]
        return command, env

    def start_process(self, service: str, emulator_port: int, name: str | None = None) -> subprocess.Popen:
        name = name or service
        self.mount_secrets(service)
        command, env = self.process_spec(service, emulator_port, name)
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, cwd=PROJECT_ROOT)
        self.processes[name] = process
        return process

    def run_init(self, emulator_port: int) -> None:
        process = self.start_process(INIT, emulator_port)
        if process.wait() != 0:
            tail = (self.logs / f"{INIT}.log").read_text(errors="replace").splitlines()[-25:]
            raise SystemExit(f"{INIT} failed (code {process.returncode}); {self.logs / (INIT + '.log')}:\n"
                             + "\n".join(tail))
        del self.processes[INIT]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            self.check_processes(restart=False)
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
                if all(health[part]["status"] == "healthy" for part in ("metadatabase", "scheduler")):
                    return
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(2)
        raise SystemExit(f"Airflow did not answer healthy on {self.url} within {STARTUP_SECONDS}s; see {self.logs}")

    def check_processes(self, *, restart: bool = True, emulator_port: int = 0) -> None:
        for name, process in list(self.processes.items()):
            self.remember(process)
            if process.poll() is None:
                continue
            if not restart or self.restarts.get(name, 0) >= RESTARTS:
                raise SystemExit(f"{name} exited with code {process.returncode}; see {self.logs / (name + '.log')}")
            self.restarts[name] = self.restarts.get(name, 0) + 1
            print(f"{name} exited with code {process.returncode}: starting it again "
                  f"({self.restarts[name]} of {RESTARTS})", flush=True)
            self.start_process(WORKER if name.startswith(WORKER) else name, emulator_port, name)

    def remember(self, process: subprocess.Popen) -> None:
        """Every process a component started: task processes take process groups of their own."""
        try:
            root = psutil.Process(process.pid)
            for each in (root, *root.children(recursive=True)):
                self.seen.setdefault(each.pid, each.create_time())
        except psutil.NoSuchProcess:
            pass

    def stop_airflow(self) -> None:
        """SIGTERM to every component's group at once (Celery finishes or hands back its tasks),
        then SIGKILL for whatever is left of them and of every process they started."""
        for process in self.processes.values():
            self.remember(process)
        for sig, grace in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 10)):
            for process in self.processes.values():
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(p.poll() is None for p in self.processes.values()):
                time.sleep(0.5)
        for pid, created in self.seen.items():
            try:
                leftover = psutil.Process(pid)
                if leftover.create_time() == created:
                    leftover.kill()
            except psutil.NoSuchProcess:
                pass
        self.processes.clear()

    def run(self, *, until=None) -> int:
        """Start everything, then watch it until Ctrl-C, SIGTERM or `until()` says stop."""
        from retention.cluster_stores import Postgres, Redis
        from retention.stack_secrets import generate_secrets

        if _answers(self.ports["api"]):
            # Otherwise the API server fails on its own a minute later, in the middle of the logs.
            raise SystemExit(f"Port {self.ports['api']} is in use (`make airflow-ui` or another cluster?): stop "
                             f"that, or choose another port with RETENTION_AIRFLOW_PORT=8081 make airflow-cluster")
        self.logs.mkdir(parents=True, exist_ok=True)
        written = generate_secrets(self.secrets_dir, connections={
            "google_cloud_default": {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True}}})
        if written:
            print(f"Wrote new random secrets in {self.secrets_dir}: {', '.join(written)}")
        with local_bigquery() as bq_env:
            emulator_port = int(bq_env["BIGQUERY_EMULATOR_HOST"].rsplit(":", 1)[1])
            try:
                for store, folder, port, secret in ((Postgres, "postgres", "postgres", "postgres_password"),
                                                    (Redis, "redis", "redis", "redis_password")):
                    print(f"Starting {store.name} on 127.0.0.1:{self.ports[port]} (data in {self.state / folder})",
                          flush=True)
                    self.stores.append(store(self.state / folder, self.ports[port], read(self.secrets_dir, secret) or "",
                                             self.logs / f"{folder}.log").start())
                print(f"Running {INIT} (secrets check, database migration, pools, users)", flush=True)
                self.run_init(emulator_port)
                self.start_process(SERVICES[0], emulator_port)
                for service in SERVICES[1:]:
                    self.start_process(service, emulator_port)
                for number in range(1, WORKERS + 1):
                    self.start_process(WORKER, emulator_port, f"{WORKER}-{number}")
                self.wait_healthy()
                print(f"Airflow (CeleryExecutor, {WORKERS} workers) on {self.url}: users and their passwords in "
                      f"{self.secrets_dir / 'airflow_users.json'}; logs in {self.logs}. Ctrl-C stops everything.",
                      flush=True)
                while until is None or not until():
                    self.check_processes(emulator_port=emulator_port)
                    time.sleep(2)
                return 0
            finally:
                print("Stopping Airflow, Redis and PostgreSQL", flush=True)
                self.stop_airflow()
                for store in reversed(self.stores):
                    store.stop()


def main(argv: list[str] | None = None) -> int:
    # `kill` (SIGTERM) as well as Ctrl-C unwinds normally, so everything is stopped in order.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        return Cluster().run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
