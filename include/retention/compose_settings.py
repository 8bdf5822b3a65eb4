"""docker-compose.yaml's settings, read as Compose reads them, for the same services run natively
(`make airflow-cluster`, retention.cluster): one source, so the two cannot drift.

For one service this gives the environment Compose would give its container (the
x-airflow-common anchor merged with the service's own keys, `${VAR:-default}` interpolated
from the given variables, `$$` unescaped), its command, and the secrets it mounts. What a
container names and a native process cannot use is translated, nothing else:

- paths inside the container (`/opt/airflow/dags`, `/run/secrets`, named volumes) become the
  folders on this machine that Compose mounts there, or that the cluster keeps in their place;
- `service:port` of another service (`postgres:5432`, `airflow-apiserver:8080`) becomes
  `127.0.0.1:<its native port>`.

The Dockerfile's `ENV` lines are the image's environment under the compose file's, translated
the same way. tests/unit/test_production_stack.py checks the result against the file.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from retention.config import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SECRETS_MOUNT = "/run/secrets"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, $$ (Compose
# Specification, "Interpolation"). Defaults here hold no nested `${`.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeError(ValueError):
    """docker-compose.yaml says something the native run cannot follow, or a required variable is unset."""


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """`value` with Compose's variable interpolation applied."""

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in variables
        empty = not variables.get(name)
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else not present) else variables[name]
        if op in (":?", "?"):
            if empty if op == ":?" else not present:
                raise ComposeError(f"docker-compose.yaml needs {name}: {arg or 'it is not set'}")
            return variables[name]
        return variables.get(name, "")

    return _INTERPOLATION.sub(substitute, value)


def load(path: Path = COMPOSE_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _as_dict(environment) -> dict[str, str]:
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {name: "" if value is None else str(value) for name, value in (environment or {}).items()}


def dockerfile_environment(path: Path = DOCKERFILE) -> dict[str, str]:
    """The `ENV` the image sets, in order (later lines win)."""
    env: dict[str, str] = {}
    text = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                                         if not line.lstrip().startswith("#")))
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].upper() == "ENV":
            for pair in shlex.split(words[1]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


@dataclass(frozen=True)
class NativeLayout:
    """Where, on this machine, each thing a container names lives."""

    paths: Mapping[str, Path]
    """Container path -> host path (the longest matching prefix is translated)."""
    hosts: Mapping[str, int]
    """`service:port` as the containers reach it -> the port on 127.0.0.1 natively."""

    def translate(self, value: str) -> str:
        for container_path in sorted(self.paths, key=len, reverse=True):
            value = re.sub(rf"(?<![\w/.-]){re.escape(container_path)}(?=$|[/\s'\";:])",
                           str(self.paths[container_path]).replace("\\", "/"), value)
        for address, port in self.hosts.items():
            value = re.sub(rf"(?<=[/@]){re.escape(address)}\b", f"127.0.0.1:{port}", value)
        return value


class ComposeService:
    """One service of docker-compose.yaml as a native process sees it."""

    def __init__(self, compose: dict, name: str) -> None:
        if name not in compose["services"]:
            raise ComposeError(f"docker-compose.yaml has no service {name!r}")
        self.name = name
        self.spec = compose["services"][name]

    def environment(self, variables: Mapping[str, str], layout: NativeLayout) -> dict[str, str]:
        """The image's ENV, then the service's environment, interpolated and translated."""
        env = {**dockerfile_environment(), **_as_dict(self.spec.get("environment"))}
        return {name: layout.translate(interpolate(value, variables)) for name, value in env.items()}

    def command(self, variables: Mapping[str, str], layout: NativeLayout) -> list[str]:
        command = self.spec.get("command") or []
        if isinstance(command, str):
            command = shlex.split(command)
        return [layout.translate(interpolate(str(word), variables)) for word in command]

    @property
    def secrets(self) -> list[str]:
        return [item if isinstance(item, str) else item["source"] for item in self.spec.get("secrets") or []]


def secret_files(compose: dict, variables: Mapping[str, str]) -> dict[str, Path]:
    """Each declared secret's file, relative paths from the compose file's folder."""
    files = {}
    for name, spec in (compose.get("secrets") or {}).items():
        if "file" not in spec:
            raise ComposeError(f"secret {name} is not a file: the native cluster reads secrets from files only")
        path = Path(interpolate(spec["file"], variables))
        files[name] = path if path.is_absolute() else (COMPOSE_FILE.parent / path).resolve()
    return files


def named_volumes(compose: dict) -> list[str]:
    return list(compose.get("volumes") or {})
