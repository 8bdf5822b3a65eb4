"""The production stack's one-shot init (docker-compose.yaml's airflow-init, and the first step
of `make airflow-cluster`).

    python -m retention.stack_init init                        # check, migrate, pools, users
    python -m retention.stack_init check                       # the secrets check alone
    python -m retention.stack_init generate-secrets --dir DIR  # random values for a new stack

`init` refuses to start (exit code 2, a message naming each refused secret and how to set
it) when a password or key is unset, short or a known default; then migrates Airflow's
metadata database, creates the pools the DAGs use, and creates or updates the UI's users
with the FAB roles of their platform role (stack_secrets.PLATFORM_ROLES). It logs user names
and roles, never a password. Safe to run again: every step converges on the same state.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from retention.stack_secrets import PLATFORM_ROLES, SecretRefused, check_secrets, generate_secrets, load_users, secrets_dir

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def _airflow(*args: str) -> None:
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed with code {result.returncode}:\n"
                         f"{(result.stdout + result.stderr)[-3000:]}")


def create_pools() -> None:
    """The pools the DAGs use (retention.operations.POOLS), as `make demo` creates them."""
    from retention.local_airflow import create_pools as import_pools
    from retention.operations import POOLS

    with tempfile.TemporaryDirectory() as folder:
        if not import_pools(dict(os.environ), Path(folder)):
            raise SystemExit("`airflow pools import` failed:\n" + (Path(folder) / "airflow-pools.log").read_text()[-3000:])
    print(f"pools: {', '.join(f'{name} ({slots} slot)' for name, (slots, _) in POOLS.items())}")


def sync_users(folder: Path) -> None:
    """Create each user of airflow_users.json, or bring an existing one to its role and password,
    through FAB's security manager (in process: a password never reaches a command line)."""
    from airflow.configuration import conf

    if conf.get("core", "auth_manager") != FAB_AUTH_MANAGER:
        raise SystemExit(f"[core] auth_manager is {conf.get('core', 'auth_manager')}, not the FAB auth manager: "
                         f"set AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER} (docker-compose.yaml does)")
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        manager = appbuilder.sm
        for user in load_users(folder):
            role = manager.find_role(PLATFORM_ROLES[user["role"]])
            found = manager.find_user(username=user["username"])
            if found is None:
                created = manager.add_user(
                    username=user["username"], first_name=user.get("first_name", user["username"]),
                    last_name=user.get("last_name", user["role"]),
                    email=user.get("email", f"{user['username']}@example.invalid"), role=role,
                    password=user["password"],
                )
                if not created:
                    raise SystemExit(f"FAB could not create the user {user['username']!r} (is its email unique?)")
                action = "created"
            else:
                found.roles = [role]
                manager.update_user(found)
                manager.reset_password(found.id, user["password"])
                action = "updated"
            print(f"user {user['username']}: {action}, platform role {user['role']} (FAB role {role.name})")


def init() -> int:
    folder = secrets_dir()
    check_secrets(folder)
    print(f"secrets in {folder}: set, none a known default")
    _airflow("db", "migrate")
    print("metadata database: migrated")
    create_pools()
    sync_users(folder)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.stack_init", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="check the secrets, migrate the database, create pools and users")
    commands.add_parser("check", help="check the secrets only")
    generate = commands.add_parser("generate-secrets", help="write random secrets where none exist")
    generate.add_argument("--dir", type=Path, default=Path(os.environ.get("RETENTION_SECRETS_DIR", ".secrets")))
    args = parser.parse_args(argv)
    try:
        if args.command == "generate-secrets":
            written = generate_secrets(args.dir)
            print(f"wrote {', '.join(written) or 'nothing (every file exists)'} in {args.dir} (mode 0600; the UI's "
                  f"passwords are in {args.dir / 'airflow_users.json'})")
            return 0
        if args.command == "check":
            check_secrets(secrets_dir())
            print("secrets: set, none a known default")
            return 0
        return init()
    except SecretRefused as refused:
        print(refused.code, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
