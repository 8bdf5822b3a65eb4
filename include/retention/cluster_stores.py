"""The production shape's two stores, natively on loopback: PostgreSQL (Airflow's metadata
database) and Redis (the Celery broker), from the distribution's packages (`make setup`
installs them), with their data under `.local/cluster/` so it survives a restart.

Each is a child process in a process group of its own, password-protected with the stack's
secrets (retention.stack_secrets), listening on 127.0.0.1 only. PostgreSQL refuses to run as
root: under root (containers, CI) its folder is given to the `postgres` system user and the
server runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

STARTUP_SECONDS = 60


class StoreError(RuntimeError):
    """A store could not be found, prepared or started; the message says what to do."""


def _binary(name: str, *, postgres: bool = False) -> str:
    found = shutil.which(name)
    if not found and postgres:  # Debian keeps them off PATH, per major version
        candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
        found = candidates[-1] if candidates else None
    if not found:
        package = "postgresql" if postgres else "redis-server"
        raise StoreError(f"{name} is not installed: run `make setup` as root, or `sudo apt-get install -y {package}`")
    return found


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user PostgreSQL runs as when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise StoreError("running as root, and there is no `postgres` or `nobody` user for PostgreSQL to run as")


class Store:
    """A server child process; stopped with its group on `stop()`."""

    name = "store"

    def __init__(self, folder: Path, port: int, password: str, log_path: Path) -> None:
        self.folder, self.port, self.password, self.log_path = folder, port, password, log_path
        self.process: subprocess.Popen | None = None

    def _popen(self, command: list[str], **kwargs) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, **kwargs)

    def _wait(self, ready) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StoreError(f"{self.name} exited with code {self.process.returncode} while starting; "
                                 f"see {self.log_path}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except Exception:  # not accepting connections yet
                pass
            time.sleep(0.3)
        self.stop()
        raise StoreError(f"{self.name} did not answer on 127.0.0.1:{self.port} within {STARTUP_SECONDS}s; "
                         f"see {self.log_path}")

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    stop_signal = signal.SIGTERM

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((self.stop_signal, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=grace)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


class Postgres(Store):
    """A PostgreSQL cluster in `folder/data`, owner role and database `airflow`."""

    name = "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: clients disconnected, data flushed

    def start(self) -> Postgres:
        owner = _run_as()
        data, sockets = self.folder / "data", self.folder / "sockets"
        data.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(parents=True, exist_ok=True)
        as_owner = {}
        if owner:
            for path in (self.folder, data, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        data.chmod(0o700)
        if not (data / "PG_VERSION").exists():
            self._initdb(data, owner, as_owner)
        self._popen([_binary("postgres", postgres=True), "-D", str(data), "-p", str(self.port),
                     "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}"],
                    cwd=self.folder, **as_owner)
        self._wait(lambda: self._connect("postgres").close() is None)
        self._create_database()
        return self

    def _initdb(self, data: Path, owner, as_owner: dict) -> None:
        password_file = self.folder / ".initdb-password"
        password_file.write_text(self.password)
        password_file.chmod(0o600)
        if owner:
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        try:
            result = subprocess.run(
                [_binary("initdb", postgres=True), "-D", str(data), "--username", "airflow",
                 f"--pwfile={password_file}", "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale"],
                capture_output=True, text=True, cwd=self.folder, **as_owner,
            )
        finally:
            password_file.unlink()
        if result.returncode != 0:
            hint = (f" PostgreSQL runs as the user {owner.pw_name} here (it refuses root): every folder above {data} "
                    f"must let it through (o+x), or set RETENTION_LOCAL_DIR to a folder that does." if owner else "")
            raise StoreError(f"initdb failed in {data}:\n{result.stdout[-1500:]}{result.stderr[-1500:]}{hint}")

    def _connect(self, database: str):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", password=self.password,
                                dbname=database, connect_timeout=3)

    def _create_database(self) -> None:
        connection = self._connect("postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
                if cursor.fetchone() is None:
                    cursor.execute("CREATE DATABASE airflow")
        finally:
            connection.close()


class Redis(Store):
    """A password-protected Redis, its snapshot in `folder`."""

    name = "Redis"

    def start(self) -> Redis:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "redis.conf"
        # The password in a private file, never on the command line, where `ps` shows it.
        config.write_text(f"bind 127.0.0.1\nport {self.port}\nprotected-mode yes\nrequirepass {self.password}\n"
                          f"dir {self.folder}\ndbfilename dump.rdb\nsave 60 1\nappendonly no\n")
        config.chmod(0o600)
        self._popen([_binary("redis-server"), str(config)], cwd=self.folder)
        self._wait(self._pong)
        return self

    def _pong(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2)
        try:
            return client.ping()
        finally:
            client.close()
