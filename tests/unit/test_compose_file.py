"""docker-compose.yaml and its Dockerfile describe a stack that would come up (README,
"Production-shaped stack").

There is no Docker engine here or in CI, so the file is never run: these checks are what
stands between it and a `docker compose up` that fails on someone's server. The file is valid
against the Compose Specification's own schema (bundled in tests/data, no network), every
component is there with a healthcheck, start-up order can be met, the project's folders are
mounted, the image installs the pinned lock, and no secret is written down.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK_FILE = ROOT / "requirements-runtime.lock"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"

ONE_SHOT = {"airflow-init"}
AIRFLOW_DEFAULT_SERVICES = (
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
)
DEFAULT_SERVICES = ("postgres", *AIRFLOW_DEFAULT_SERVICES, "bigquery-emulator")
CELERY_SERVICES = ("redis", "airflow-worker")
AIRFLOW_SERVICES = (*AIRFLOW_DEFAULT_SERVICES, "airflow-worker")
PROJECT_FOLDERS = ("dags", "plugins", "include", "sql")
SECRETS_DIR = "/run/secrets/"

# Names whose values would be secrets if written literally.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
# Settings that only say where secrets are: the secrets backend's class and options, the folder.
SECRETS_LOCATION = re.compile(r"^AIRFLOW__SECRETS__|_SECRETS_DIR$")
# A password in a URL is only ever printf's placeholder, filled from a secret file at run time.
SECRET_PLACEHOLDERS = {"%s"}
# Shapes of real credentials: Twilio account / API key SIDs, Google API keys and key files, Kakao keys.
CREDENTIAL_SHAPES = re.compile(
    r"\bAC[0-9a-f]{32}\b|\bSK[0-9a-f]{32}\b|AIza[0-9A-Za-z_-]{35}|-----BEGIN|\"private_key\"|KakaoAK\s+\w"
    r"|\"password\"\s*:|\"auth_token\"\s*:"
)
USERINFO = re.compile(r"://(?P<user>[^:/@\s]+):(?P<password>[^@\s]+)@")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def volumes_of(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume, short or long syntax."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found.append((source, target))
    return found


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):  # Docker drops these, inside continuations too
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


# -- the file as Compose reads it ------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert "draft-07" in schema["$schema"], f"the bundled schema now declares {schema['$schema']}: pick its validator"
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)
    # The Compose Specification ignores `version:` and Compose warns about it.
    assert "version" not in compose


def test_the_default_stack_has_every_component(services):
    missing = [name for name in DEFAULT_SERVICES if name not in services]
    assert not missing, f"docker-compose.yaml lacks {missing}"
    profiled = [name for name in DEFAULT_SERVICES if services[name].get("profiles")]
    assert not profiled, f"{profiled} must start with a plain `docker compose up`, without a profile"


def test_redis_and_the_celery_worker_come_only_with_the_celery_profile(services):
    for name in CELERY_SERVICES:
        assert name in services, f"the celery profile needs a {name} service"
        assert services[name].get("profiles") == ["celery"], f"{name} must be in the celery profile only"
    others = {name for name, service in services.items() if service.get("profiles")} - set(CELERY_SERVICES)
    assert not others, f"unexpected profiles on {sorted(others)}"
    worker = services["airflow-worker"]["command"]
    assert worker[:3] == ["airflow", "celery", "worker"]


def test_the_executor_is_local_by_default_and_switchable_to_celery(services):
    for name in AIRFLOW_SERVICES:
        env = environment_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}", name
        assert "redis://:%s@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL_CMD"], name


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") == "no", f"{name} is one-shot: it must not restart"
            continue
        check = service.get("healthcheck") or {}
        test = check.get("test")
        assert test and not check.get("disable"), f"{name} has no healthcheck"
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, f"{name}: {test}"


def test_dependencies_name_existing_services_with_conditions_they_can_meet(services):
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on {target}, which does not exist"
            condition = rule["condition"]
            if target in ONE_SHOT:
                assert condition == "service_completed_successfully", f"{name} -> {target}: {condition}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
                assert services[target].get("healthcheck"), f"{name} waits for {target}'s health, which it lacks"
            # A service outside a profile may only wait for a profiled one if it does not require it.
            if services[target].get("profiles") and not service.get("profiles"):
                assert rule.get("required") is False, f"{name} cannot start without the {target} profile"


def test_airflow_waits_for_its_database_and_the_init(services):
    assert services["airflow-init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in AIRFLOW_SERVICES:
        if name in ONE_SHOT:
            continue
        needs = services[name]["depends_on"]
        assert needs["postgres"]["condition"] == "service_healthy", name
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
    # Tasks run in the scheduler (LocalExecutor) or the worker (Celery): both need the warehouse
    # and the execution API before they take a task.
    for name in ("airflow-scheduler", "airflow-worker"):
        for target in ("bigquery-emulator", "airflow-apiserver"):
            assert services[name]["depends_on"][target]["condition"] == "service_healthy", (name, target)


def test_start_up_order_has_no_cycle(services):
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"dependency cycle: {' -> '.join([*path, name])}"
        state[name] = "visiting"
        for target in services[name].get("depends_on") or {}:
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


# -- image, mounts, files --------------------------------------------------------------------------


def test_every_project_image_service_is_built_from_the_dockerfile(services):
    images = set()
    for name in (*AIRFLOW_SERVICES, "bigquery-emulator"):
        build = services[name].get("build")
        assert build, f"{name} must build the project image"
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT, name
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile", name
        images.add(services[name]["image"])
    assert DOCKERFILE.is_file()
    assert len(images) == 1, f"one image for all of them, not {sorted(images)}"


def test_every_airflow_service_mounts_the_project_folders(services):
    for name in AIRFLOW_SERVICES:
        mounts = dict((target, source) for source, target in volumes_of(services[name]))
        for folder in PROJECT_FOLDERS:
            assert mounts.get(f"/opt/airflow/{folder}") == f"./{folder}", f"{name} does not mount ./{folder}"


def test_every_path_the_compose_file_mounts_exists_and_every_volume_is_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, target in volumes_of(service):
            if is_host_path(source):
                assert (COMPOSE_FILE.parent / source).resolve().exists(), f"{name} mounts {source}, not in the repo"
            else:
                assert source in declared, f"{name} uses volume {source!r}, not declared under volumes:"


def test_the_dockerfile_installs_the_lock_then_the_project():
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-")
    runs = [args for kind, args in instructions if kind == "RUN"]
    copies = [args.split() for kind, args in instructions if kind == "COPY"]
    lock_install = next(i for i, args in enumerate(runs)
                        if re.search(r"pip install .*-r requirements-runtime\.lock", args))
    project_install = next(i for i, args in enumerate(runs) if re.search(r"pip install .*--no-deps .*-e \.", args))
    assert lock_install < project_install
    assert ["requirements-runtime.lock", "./"] in copies
    for package in ("chromium", "chromium-driver", "fonts-noto-cjk"):
        assert any(re.search(rf"apt-get install .*\b{re.escape(package)}\b", args) for args in runs), package
    for args in copies:
        for source in args[:-1]:
            if not source.startswith("--"):
                assert (ROOT / source).exists(), f"the Dockerfile copies {source}, not in the repo"
    users = [args for kind, args in instructions if kind == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    # An empty BIGQUERY_EMULATOR_HOST (the emulator switched off in .env) must reach no process.
    assert any(kind == "ENTRYPOINT" and "unset BIGQUERY_EMULATOR_HOST" in args for kind, args in instructions)


def test_the_build_context_keeps_what_the_image_copies():
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for source in ("requirements-runtime.lock", "pyproject.toml", *PROJECT_FOLDERS):
        assert source not in ignored, f".dockerignore drops {source}, which the Dockerfile copies"
    for local_state in (".venv", ".local", ".git", ".env", ".secrets"):
        assert local_state in ignored, f"{local_state} must stay out of the image"


# -- settings and secrets --------------------------------------------------------------------------


def all_environments(compose) -> list[tuple[str, dict[str, str]]]:
    found = [(name, environment_of(service)) for name, service in compose["services"].items()]
    found += [(key, environment_of(block)) for key, block in compose.items() if key.startswith("x-")]
    return found


def test_no_secret_is_written_in_the_compose_file(compose):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert not CREDENTIAL_SHAPES.search(text), f"credential-like text: {CREDENTIAL_SHAPES.search(text).group(0)!r}"
    for owner, env in all_environments(compose):
        for name, value in env.items():
            where = f"{owner}: {name}={value}"
            assert not name.startswith("AIRFLOW_CONN_"), f"{where}: connections come from the secrets backend"
            if SECRET_NAME.search(name) and not SECRETS_LOCATION.search(name):
                if name.endswith("_CMD"):
                    assert value.startswith(f"cat {SECRETS_DIR}") or f"$(cat {SECRETS_DIR}" in value, where
                elif value.startswith(SECRETS_DIR):
                    pass  # a path to a file in the secrets volume, not a secret
                else:
                    assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?-)?\}", value), where
            for match in USERINFO.finditer(value):
                assert match["password"] in SECRET_PLACEHOLDERS, f"{where}: a password in a URL"


def test_the_keys_airflow_components_share_are_secrets_every_airflow_service_mounts(compose, services):
    files = {re.search(rf"{SECRETS_DIR}(\w+)", value).group(1) for _, env in all_environments(compose)
             for name, value in env.items() if name.endswith("_CMD")}
    assert {"fernet_key", "jwt_secret", "api_secret_key", "postgres_password", "redis_password"} <= files
    for name in AIRFLOW_SERVICES:
        mounted = set(services[name].get("secrets") or [])
        assert {"postgres_password", "fernet_key", "jwt_secret"} <= mounted, name
        assert files & set(compose["secrets"]) == files, "every file a _CMD reads is a declared secret"


def test_the_init_is_the_project_init_script(services):
    # What it does (refuse defaults, migrate, pools, users) is tested in test_production_stack.py.
    assert services["airflow-init"]["command"] == ["python", "-m", "retention.stack_init", "init"]


def test_retention_settings_can_be_overridden_from_the_environment(services):
    env = environment_of(services["airflow-scheduler"])
    settings = {name: value for name, value in env.items() if name.startswith("RETENTION_")}
    assert {"RETENTION_BQ_PROJECT", "RETENTION_BQ_LOCATION", "RETENTION_DATASET_PREFIX",
            "RETENTION_GCP_CONN_ID", "RETENTION_SMS_OPT_OUT_NUMBER"} <= set(settings)
    for name, value in settings.items():
        assert value.startswith(f"${{{name}:-") and value.endswith("}"), f"{name}={value} cannot be overridden"
    # Without the colon: BIGQUERY_EMULATOR_HOST= (empty) in .env switches the emulator off.
    assert env["BIGQUERY_EMULATOR_HOST"].startswith("${BIGQUERY_EMULATOR_HOST-http://")


def test_the_components_find_each_other_on_the_compose_network(services):
    env = environment_of(services["airflow-scheduler"])
    api = services["airflow-apiserver"]
    api_port = api["command"][api["command"].index("--port") + 1]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://airflow-apiserver:{api_port}/execution/"
    assert f"localhost:{api_port}/api/v2/monitor/health" in " ".join(api["healthcheck"]["test"])
    assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]
    emulator = services["bigquery-emulator"]
    emulator_port = environment_of(emulator)["BQEMU_REST_PORT"]
    assert environment_of(emulator)["BQEMU_REST_HOST"] == "0.0.0.0", "the emulator must listen beyond its container"
    assert env["BIGQUERY_EMULATOR_HOST"] == f"${{BIGQUERY_EMULATOR_HOST-http://bigquery-emulator:{emulator_port}}}"
    assert f"localhost:{emulator_port}/readyz" in " ".join(emulator["healthcheck"]["test"])
    # The scheduler's healthcheck asks its health server, which is off unless enabled.
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower() == "true"
    assert "localhost:8974/health" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])


def test_only_loopback_ports_are_published(services):
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    for name in ("postgres", "redis"):
        assert not services[name].get("ports"), f"{name} must stay on the compose network"
