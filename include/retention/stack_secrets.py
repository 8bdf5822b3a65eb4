"""The production stack's passwords and keys: one file each in a secrets folder, checked before
anything starts (docs/production_stack.md, "Secrets").

docker-compose.yaml mounts each file as a Compose secret at /run/secrets/<name>, only into the
services that need it; `make airflow-cluster` reads the same files from `.local/cluster/secrets`.
A missing, empty, short, malformed or well-known value is refused with a message that names the
secret, its file and the command that writes a random one. No value is ever printed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

SECRETS_DIR_VARIABLE = "RETENTION_STACK_SECRETS_DIR"
GENERATE_COMMAND = "python -m retention.stack_init generate-secrets --dir {dir}"


@dataclass(frozen=True)
class Secret:
    name: str
    """The file name, and the Compose secret's name."""
    about: str
    """What it is, as a message names it."""
    kind: str = "password"
    """`password` (URL-safe: it goes into connection URLs as it is), `fernet` or `key`."""


SECRETS = (
    Secret("postgres_password", "the metadata database password"),
    Secret("redis_password", "the Redis (Celery broker) password"),
    Secret("fernet_key", "the Fernet key (encrypts connections and variables in the database)", "fernet"),
    Secret("api_secret_key", "the API server's secret key (signs UI sessions)", "key"),
    Secret("jwt_secret", "the JWT secret (signs the API's and the tasks' tokens)", "key"),
)
USERS_FILE = "airflow_users.json"
CONNECTIONS_FILE = "airflow_connections.json"

# Values found in quick-starts, examples and older defaults (Airflow's own `temporary_key`
# among them), compared without case, dashes or underscores.
KNOWN_DEFAULTS = {
    "airflow", "admin", "administrator", "password", "passw0rd", "postgres", "redis", "root", "secret",
    "changeme", "changeit", "default", "example", "test", "testing", "temporary_key", "temporarykey",
    "123456", "12345678", "1234567890", "qwerty", "letmein", "fernetkey", "secretkey", "jwtsecret",
}
# Airflow's and Fernet's documentation show these keys; anyone can decrypt with them.
KNOWN_FERNET_KEYS = {
    "81HqDtbqAywKSOumSha3BhWNOdQ26slT6K0YaZeZyPs=",
    "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
}
MIN_LENGTH = 16
URL_SAFE = set(string.ascii_letters + string.digits + "-._~")

# The platform's users (docs/production_stack.md, "Users and roles") and the FAB roles they get:
# admins manage connections, users and pools; data engineers operate the DAGs (trigger, clear,
# pause, backfill) and cannot edit connections; marketers read.
PLATFORM_ROLES = {"admin": "Admin", "data_engineer": "User", "marketer": "Viewer"}
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
MIN_USER_PASSWORD_LENGTH = 12


class SecretRefused(SystemExit):
    """A secret the stack must not start with; the message says which and what to do."""


def secrets_dir() -> Path:
    """Where the files are: `RETENTION_STACK_SECRETS_DIR` (/run/secrets in the containers)."""
    value = os.environ.get(SECRETS_DIR_VARIABLE)
    if not value:
        raise SecretRefused(f"{SECRETS_DIR_VARIABLE} is not set: name the folder of the stack's secrets "
                            f"(/run/secrets in docker-compose.yaml's airflow-init)")
    return Path(value)


def _is_known_default(value: str) -> bool:
    folded = re.sub(r"[-_\s]", "", value.lower())
    return folded in {re.sub(r"[-_]", "", d) for d in KNOWN_DEFAULTS} or len(set(value)) <= 2


def problem_with(secret: Secret, value: str | None) -> str | None:
    """Why `value` must not be used for `secret`, or None if it may."""
    if value is None:
        return "is not set (no such file)"
    if not value.strip():
        return "is empty"
    if _is_known_default(value) or value in KNOWN_FERNET_KEYS:
        return "is a known default value"
    if secret.kind == "fernet":
        try:
            if len(base64.urlsafe_b64decode(value.encode())) != 32:
                return "is not a Fernet key (32 url-safe base64-encoded bytes)"
        except (binascii.Error, ValueError):
            return "is not a Fernet key (32 url-safe base64-encoded bytes)"
        return None
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if secret.kind == "password" and not set(value) <= URL_SAFE:
        return "has characters that are not URL-safe (it goes into the database and broker URLs as it is)"
    return None


def read(folder: Path, name: str) -> str | None:
    path = folder / name
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def check_secrets(folder: Path) -> None:
    """Raise SecretRefused naming every secret in `folder` that is unset or unsafe."""
    problems = []
    for secret in SECRETS:
        problem = problem_with(secret, read(folder, secret.name))
        if problem:
            problems.append(f"  - {secret.about} (secret {secret.name}, file {folder / secret.name}) {problem}")
    problems += [f"  - {problem}" for problem in user_problems(folder)]
    if problems:
        raise SecretRefused(
            "The stack refuses to start with these secrets:\n" + "\n".join(problems) + "\n"
            f"Write random ones for what is missing with `{GENERATE_COMMAND.format(dir=folder)}` (it never "
            "overwrites a file: delete a refused one first), or put your own in those files (URL-safe "
            f"passwords of {MIN_LENGTH}+ characters; a key from "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`). "
            "docs/production_stack.md, \"Secrets\"."
        )


def load_users(folder: Path) -> list[dict]:
    """The UI's users from airflow_users.json: [{"username", "role", "password", "email"?}, ...]."""
    text = read(folder, USERS_FILE)
    return [] if text is None else json.loads(text)


def user_problems(folder: Path) -> list[str]:
    where = folder / USERS_FILE
    try:
        users = load_users(folder)
    except json.JSONDecodeError as error:
        return [f"the UI's users ({where}) are not JSON: {error.msg} at line {error.lineno}"]
    if not users:
        return [f"the UI's users ({where}) are not set: a JSON list of {{\"username\", \"role\", \"password\"}}"]
    problems = []
    for number, user in enumerate(users, start=1):
        name = user.get("username", "")
        if not USERNAME.match(name):
            problems.append(f"user {number} in {where}: username {name!r} must be lower case letters, digits, . _ -")
        if user.get("role") not in PLATFORM_ROLES:
            problems.append(f"user {name!r} in {where}: role {user.get('role')!r} is not one of {sorted(PLATFORM_ROLES)}")
        password = user.get("password") or ""
        if len(password) < MIN_USER_PASSWORD_LENGTH or _is_known_default(password) or password == name:
            problems.append(f"user {name!r} in {where}: the password is unset, a known default or shorter than "
                            f"{MIN_USER_PASSWORD_LENGTH} characters")
    if not any(user.get("role") == "admin" for user in users):
        problems.append(f"{where} has no user with the role 'admin': nobody could manage connections")
    return problems


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def generate_secrets(folder: Path, *, connections: dict | None = None) -> list[str]:
    """Write a random value for each secret file that does not exist yet (mode 0600, never
    overwriting), the UI's users (one per platform role) and the connections file; returns
    the names written. Values are never printed: they are in the files."""
    from cryptography.fernet import Fernet

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    written = []
    for secret in SECRETS:
        path = folder / secret.name
        if path.exists():
            continue
        value = Fernet.generate_key().decode() if secret.kind == "fernet" else secrets.token_urlsafe(32)
        _write_private(path, value)
        written.append(secret.name)
    if not (folder / USERS_FILE).exists():
        users = [{"username": name, "role": role, "password": secrets.token_urlsafe(18),
                  "email": f"{name}@example.invalid"}
                 for name, role in (("admin", "admin"), ("engineer", "data_engineer"), ("marketer", "marketer"))]
        _write_private(folder / USERS_FILE, json.dumps(users, indent=2) + "\n")
        written.append(USERS_FILE)
    if not (folder / CONNECTIONS_FILE).exists():
        _write_private(folder / CONNECTIONS_FILE, json.dumps(connections or {}, indent=2) + "\n")
        written.append(CONNECTIONS_FILE)
    return written
