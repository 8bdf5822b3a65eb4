"""The local BigQuery: `bqemulator` (DuckDB inside) as a child process on loopback.

Tests start an ephemeral one per session; the demo and the Airflow UI command start a
persistent one whose data lives under `.local/bigquery/`. Nothing is downloaded: the
emulator insists on `INSTALL spatial`, and DuckDB skips the download when the extension is
already in its extension directory, so we put the file from the `duckdb-extension-spatial`
wheel there, in a home folder of the emulator's own (DuckDB looks under `$HOME/.duckdb`).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from types import TracebackType

from retention.config import LOCAL_PROJECT, PROJECT_ROOT

log = logging.getLogger(__name__)

LOCAL_STATE_DIR = PROJECT_ROOT / ".local"
STARTUP_TIMEOUT_SECONDS = 90


class EmulatorError(RuntimeError):
    """The local BigQuery emulator could not be prepared, started or reached."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_duckdb_home(home: Path) -> Path:
    """Place the spatial extension from the installed wheel where DuckDB looks for it."""
    import duckdb

    version = f"v{duckdb.__version__}"
    source = resources.files("duckdb_extension_spatial") / "extensions" / version / "spatial.duckdb_extension"
    if not source.is_file():
        shipped = sorted(p.name for p in (resources.files("duckdb_extension_spatial") / "extensions").iterdir())
        raise EmulatorError(
            f"duckdb {duckdb.__version__} is installed but the duckdb-extension-spatial wheel ships "
            f"the extension for {shipped}; pin both packages to the same version in requirements.txt"
        )
    with duckdb.connect() as con:
        platform = con.sql("PRAGMA platform").fetchone()[0]
    target = home / ".duckdb" / "extensions" / version / platform / "spatial.duckdb_extension"
    if not target.is_file() or target.stat().st_size != Path(str(source)).stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(source), target)
    return home


class LocalBigQuery:
    """A bqemulator child process on loopback; a context manager that always stops it.

    `data_dir=None` keeps everything in memory (tests); a folder makes it persistent.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        project: str = LOCAL_PROJECT,
        work_dir: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.grpc_port = free_port()
        self.project = project
        self.work_dir = work_dir or (data_dir.parent if data_dir else LOCAL_STATE_DIR / "emulator-ephemeral")
        self.log_path = self.work_dir / f"bqemulator-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The emulator process's id while it runs."""
        return self._process.pid if self._process else None

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalBigQuery:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        home = prepare_duckdb_home(self.work_dir / "duckdb-home")
        command = [
            sys.executable, "-m", "bqemulator", "start",
            "--rest-host", "127.0.0.1", "--rest-port", str(self.port),
            "--grpc-host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
            "--project", self.project, "--log-format", "console", "--log-level", "warning",
        ]
        if self.data_dir is None:
            command.append("--ephemeral")
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command += ["--data-dir", str(self.data_dir)]
        env = {
            **os.environ,
            "HOME": str(home),
            # Avro support would try to download a second extension; the platform never uses Avro.
            "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
            "BQEMU_METRICS_ENABLED": "false",
        }
        log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log_file.close()
        self._wait_until_ready()
        log.info("local BigQuery emulator listening on %s (data: %s)", self.host, self.data_dir or "in memory")
        return self

    @property
    def probe_url(self) -> str:
        return f"{self.host}/bigquery/v2/projects/{self.project}/datasets"

    def answers(self) -> bool:
        """An emulator (this one, or one started elsewhere) answers on this port."""
        try:
            with urllib.request.urlopen(self.probe_url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmulatorError(
                    f"the BigQuery emulator exited with code {self._process.returncode} while starting; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if self.answers():
                return
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(
            f"the BigQuery emulator did not answer on {self.probe_url} within {STARTUP_TIMEOUT_SECONDS}s; "
            f"see {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def environment(self) -> dict[str, str]:
        """Environment variables that point the platform (and Airflow) at this emulator."""
        return {
            "BIGQUERY_EMULATOR_HOST": self.host,
            # The Storage Read API (Arrow over gRPC) for large reads of plain tables.
            "BIGQUERY_STORAGE_EMULATOR_HOST": f"127.0.0.1:{self.grpc_port}",
            "RETENTION_BQ_PROJECT": self.project,
            # The Google provider's hook is never used against the emulator, but an
            # anonymous connection keeps anything that looks it up away from real credentials.
            "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": (
                '{"conn_type": "google_cloud_platform", "extra": {"project": "%s", "is_anonymous": true}}'
                % self.project
            ),
        }

    def __enter__(self) -> LocalBigQuery:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
