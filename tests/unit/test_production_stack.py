"""The production stack is safe to expose, and `make airflow-cluster` runs it with the compose
file's own settings (README, "Production-shaped stack"; docs/production_stack.md).

Read from docker-compose.yaml, the Dockerfile, the locks and the init script: real users and
roles (the FAB auth manager), no default secret (init refuses, with its message), Redis behind
a password, connections from a secrets backend and each service mounting only the secrets it
needs, a lean image. Then the native cluster's processes are built from the same file and
compared with it, so the two cannot drift.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retention import cluster as native
from retention.compose_settings import ComposeError, ComposeService, dockerfile_environment, interpolate
from retention.stack_secrets import PLATFORM_ROLES, SECRETS, generate_secrets

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
TEST_ONLY_PACKAGES = re.compile(r"^(pytest.*|iniconfig|coverage|hypothesis|mypy|ruff|tox|nox|responses|freezegun)$")


def env_of(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in (SERVICES[name].get("environment") or {}).items()}


def secrets_of(name: str) -> set[str]:
    return set(SERVICES[name].get("secrets") or [])


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


# -- users and roles ------------------------------------------------------------------------------


def test_every_airflow_service_uses_the_fab_auth_manager_and_no_simple_auth_setting():
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = env_of(name)
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB, name
        assert not [key for key in env if "SIMPLE_AUTH_MANAGER" in key], f"{name} still configures SimpleAuthManager"


def test_platform_roles_give_connections_to_admins_only():
    # FAB's built-in roles: Admin manages connections and users; User operates DAGs (trigger,
    # clear, pause) without connections; Viewer reads. The e2e cluster test checks each over HTTP.
    assert PLATFORM_ROLES == {"admin": "Admin", "data_engineer": "User", "marketer": "Viewer"}


def test_the_users_come_from_a_secret_only_the_init_mounts():
    holders = [name for name in SERVICES if "airflow_users.json" in secrets_of(name)]
    assert holders == ["airflow-init"]


# -- no default secret ----------------------------------------------------------------------------


def run_init(secrets_dir: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RETENTION_STACK_SECRETS_DIR": str(secrets_dir)}
    return subprocess.run([sys.executable, "-m", "retention.stack_init", *(command or ("init",))], env=env,
                          capture_output=True, text=True, timeout=120)


def test_init_refuses_a_default_database_password_and_says_which_and_how_to_fix_it(tmp_path):
    generate_secrets(tmp_path)
    (tmp_path / "postgres_password").write_text("airflow")
    result = run_init(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the metadata database password (secret postgres_password" in result.stderr
    assert "is a known default value" in result.stderr
    assert "python -m retention.stack_init generate-secrets --dir" in result.stderr
    assert "metadata database: migrated" not in result.stdout, "it must refuse before touching the database"


def test_init_names_every_unsafe_secret_at_once_without_printing_any_value(tmp_path):
    generate_secrets(tmp_path)
    (tmp_path / "redis_password").write_text("changeme")
    (tmp_path / "fernet_key").unlink()
    (tmp_path / "api_secret_key").write_text("")
    (tmp_path / "jwt_secret").write_text("short-secret")
    result = run_init(tmp_path, "check")
    assert result.returncode == 2
    assert re.search(r"Redis .*redis_password.* is a known default value", result.stderr)
    assert re.search(r"Fernet key .*fernet_key.* is not set", result.stderr)
    assert re.search(r"api_secret_key.* is empty", result.stderr)
    assert re.search(r"jwt_secret.* is shorter than 16 characters", result.stderr)
    postgres_password = (tmp_path / "postgres_password").read_text()
    for value in ("changeme", "short-secret", postgres_password):
        assert value not in result.stderr + result.stdout


def test_users_with_default_passwords_or_unknown_roles_are_refused(tmp_path):
    generate_secrets(tmp_path)
    (tmp_path / "airflow_users.json").write_text(json.dumps([
        {"username": "admin", "role": "admin", "password": "admin"},
        {"username": "ops", "role": "superuser", "password": "a-long-enough-password"},
    ]))
    result = run_init(tmp_path, "check")
    assert result.returncode == 2
    assert "user 'admin'" in result.stderr and "known default" in result.stderr
    assert "role 'superuser' is not one of" in result.stderr


def test_generated_secrets_pass_the_check_and_are_private(tmp_path):
    written = generate_secrets(tmp_path / "secrets")
    assert {secret.name for secret in SECRETS} <= set(written)
    result = run_init(tmp_path / "secrets", "check")
    assert result.returncode == 0, result.stderr
    for path in (tmp_path / "secrets").iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
    assert generate_secrets(tmp_path / "secrets") == [], "it never overwrites a secret"


def test_no_secret_has_a_default_in_the_compose_file():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert not re.search(r"PASSWORD:-|PASSWORD-[a-z]|:-airflow\}|:-admin", text)
    for name, spec in COMPOSE["secrets"].items():
        assert spec["file"] == f"${{RETENTION_SECRETS_DIR:-./.secrets}}/{name}", name
    assert ".secrets/" in (ROOT / ".gitignore").read_text()


def test_redis_requires_a_password_and_celery_uses_it():
    redis = SERVICES["redis"]
    script = " ".join(redis["command"])
    assert "requirepass" in script and "/run/secrets/redis_password" in script and secrets_of("redis") == {
        "redis_password"}
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    env = env_of("airflow-worker")
    assert "AIRFLOW__CELERY__BROKER_URL" not in env
    assert "cat /run/secrets/redis_password" in env["AIRFLOW__CELERY__BROKER_URL_CMD"]
    assert "redis://:%s@redis:6379/0" in env["AIRFLOW__CELERY__BROKER_URL_CMD"]
    assert "cat /run/secrets/postgres_password" in env["AIRFLOW__CELERY__RESULT_BACKEND_CMD"]
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


# -- secrets backend, least privilege ---------------------------------------------------------------


def test_connections_come_from_a_secrets_backend_not_the_environment():
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert "AIRFLOW_CONN_" not in text
    env = env_of("airflow-scheduler")
    assert env["AIRFLOW__SECRETS__BACKEND"] == (
        "${AIRFLOW_SECRETS_BACKEND:-airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend}")
    # The development setting the compose file documents is the one the native cluster uses.
    assert native.DEVELOPMENT_VARIABLES["AIRFLOW_SECRETS_BACKEND"] in text
    assert native.DEVELOPMENT_VARIABLES["AIRFLOW_SECRETS_BACKEND_KWARGS"] in text


def test_each_service_mounts_only_the_secrets_it_needs():
    task_runners = {"airflow-scheduler", "airflow-triggerer", "airflow-worker"}
    celery = {"airflow-scheduler", "airflow-worker"}
    for name in AIRFLOW_SERVICES:
        mounted = secrets_of(name)
        assert ("airflow_connections.json" in mounted) == (name in task_runners), name
        assert ("redis_password" in mounted) == (name in celery), name
        # The API server signs UI sessions and log requests; log servers check them.
        assert ("api_secret_key" in mounted) == (name != "airflow-dag-processor"), name
    assert secrets_of("postgres") == {"postgres_password"}
    assert secrets_of("airflow-init") == {s.name for s in SECRETS} | {"airflow_users.json"}
    assert not secrets_of("bigquery-emulator")


# -- lean image ------------------------------------------------------------------------------------


def test_the_runtime_lock_has_no_test_tools_and_agrees_with_the_full_lock():
    runtime, full = pins(ROOT / "requirements-runtime.lock"), pins(ROOT / "requirements.lock")
    assert not [name for name in runtime if TEST_ONLY_PACKAGES.match(name)]
    assert "apache-airflow" in runtime and "apache-airflow-providers-fab" in runtime
    assert {name: full[name] for name in runtime} == runtime, "both locks pin the same runtime versions"
    extra = set(full) - set(runtime)
    assert extra and all(TEST_ONLY_PACKAGES.match(name) for name in extra), sorted(extra)
    assert "pytest" not in (ROOT / "requirements.txt").read_text()


def test_the_image_installs_the_runtime_lock_only_and_runs_as_non_root():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install [^\n]*", text)
    assert installs == ["pip install --no-cache-dir --compile -r requirements-runtime.lock",
                        "pip install --no-cache-dir --no-deps -e ."]
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


# -- one source: the native cluster's processes from the compose file ------------------------------


def test_compose_interpolation_rules():
    variables = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${UNSET:-d}", variables) == "value d d"
    assert interpolate("${EMPTY-d}|${UNSET-d}", variables) == "|d"
    assert interpolate("$$(cat x) $SET", variables) == "$(cat x) value"
    with pytest.raises(ComposeError, match="needs UNSET: say why"):
        interpolate("${UNSET:?say why}", variables)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_AIRFLOW_PORT", "18080")
    monkeypatch.setenv("RETENTION_CLUSTER_POSTGRES_PORT", "15432")
    monkeypatch.setenv("RETENTION_CLUSTER_REDIS_PORT", "16379")
    monkeypatch.delenv("RETENTION_SECRETS_DIR", raising=False)
    for name in ("RETENTION_RETRY_DELAY_SECONDS", "RETENTION_SCORING_SHARD_ROWS", "RETENTION_OUTREACH_SIMULATED_NOW"):
        monkeypatch.delenv(name, raising=False)  # the tests' own settings: the compose defaults are checked
    made = native.Cluster(tmp_path / "local")
    generate_secrets(made.secrets_dir)
    return made


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_each_native_process_gets_the_compose_environment_and_nothing_else(cluster, service):
    command, env = cluster.process_spec(service, emulator_port=19050)
    compose_env = {**dockerfile_environment(), **ComposeService(COMPOSE, service).environment(
        cluster.variables, cluster.layout(service, 19050))}
    extras = set(cluster.native_extras(service))
    assert set(env) == set(compose_env) | extras, "only the documented native extras are added"
    assert {k: v for k, v in env.items() if k not in extras} == compose_env
    assert not [key for key in env if key.startswith("AIRFLOW_CONN_")]
    # The settings the issue names, as the compose file gives them.
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB
    assert env["AIRFLOW__SECRETS__BACKEND"] == "airflow.secrets.local_filesystem.LocalFilesystemBackend"
    mount = cluster.state / "run" / service / "secrets"
    assert json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"]) == {
        "connections_file_path": f"{mount}/airflow_connections.json"}
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(ROOT / "dags")
    for name, value in env_of(service).items():
        if name.startswith("RETENTION_") and value.startswith("${"):
            default = re.fullmatch(r"\$\{\w+:?-(.*)\}", value).group(1)
            assert env[name] == default.replace("/opt/airflow/.local", str(cluster.local_dir.resolve())), name
    assert Path(command[0]).name in {"airflow", Path(sys.executable).name}


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_each_native_process_reads_only_its_own_secrets_through_the_compose_commands(cluster, service):
    cluster.mount_secrets(service)
    mount = cluster.state / "run" / service / "secrets"
    assert {path.name for path in mount.iterdir()} == secrets_of(service)
    _, env = cluster.process_spec(service, emulator_port=19050)
    password = (cluster.secrets_dir / "postgres_password").read_text()
    url = subprocess.run(__import__("shlex").split(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]),
                         capture_output=True, text=True, check=True).stdout
    assert url == f"postgresql+psycopg2://airflow:{password}@127.0.0.1:15432/airflow"
    broker = subprocess.run(__import__("shlex").split(env["AIRFLOW__CELERY__BROKER_URL_CMD"]),
                            capture_output=True, text=True)
    assert (broker.returncode == 0) == ("redis_password" in secrets_of(service)), broker.stderr


def test_every_compose_volume_has_a_native_place():
    assert set(COMPOSE["volumes"]) == set(native.NATIVE_VOLUMES)
    services = {name for name in SERVICES if name.startswith("airflow-")} | {"postgres", "redis"}
    assert set(native.SERVICES) | {native.INIT, native.WORKER} | {"postgres", "redis"} == services
