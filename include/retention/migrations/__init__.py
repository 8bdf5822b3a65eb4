"""Versioned, forward-only schema migrations of the warehouse, recorded in `ops.schema_migrations`.

    python -m retention.migrations status     # applied, pending, and whether the files still agree
    python -m retention.migrations apply      # apply what is pending (what every DAG does first)

`CREATE TABLE IF NOT EXISTS` creates a table with a release's columns but never changes a table
an older release created. Every change to an existing table (a column added, a view replaced,
a table option set) is therefore also a file `sql/migrations/NNNN_<what>.sql` (steps:
`retention.migrations.steps`), applied in version order, once per warehouse, and recorded with
its checksum. Where they run: `migrate(warehouse)` at the end of each DAG's ensure step, before
the DAG writes anything (telco_ingest `prepare_warehouse`, places_refresh `seed_bundled_places`,
churn_weekly `build_features`, senior_outreach `decide_audience` and `send_messages`), and the
command above in a deployment pipeline (docs/schema_migrations.md).

Refused, with the version and what to do: an applied migration whose file changed since (a
checksum mismatch: restore the file, put the change in a new migration), an applied version
this release does not have (the warehouse was migrated by a newer release: deploy that one),
and two files with one version (renumber the newer one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from retention.config import SQL_DIR
from retention.migrations import steps
from retention.migrations.steps import MigrationError
from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
LEDGER_DDL = "ops/schema_migrations/create.sql"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

__all__ = ["MIGRATIONS_DIR", "Migration", "MigrationError", "load", "migrate", "status"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    checksum: str

    @property
    def source(self) -> str:
        return f"sql/migrations/{self.path.name}"


def load(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file of `folder`, in version order."""
    migrations: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: a migration file is named NNNN_<what>.sql (four digits, lowercase "
                                 "words with underscores), e.g. 0007_customers_segment.sql; rename it")
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        migration = Migration(int(match.group(1)), match.group(2), path,
                              hashlib.sha256(text.encode("utf-8")).hexdigest())
        if migration.version in migrations:
            raise MigrationError(
                f"two migrations have version {migration.version:04d}: {migrations[migration.version].path.name} "
                f"and {path.name}; give the newer one the next free number ({max(migrations) + 1:04d} or above)")
        migrations[migration.version] = migration
    return [migrations[version] for version in sorted(migrations)]


def applied(warehouse: Warehouse, *, create: bool = True) -> dict[int, dict]:
    """The ledger: version -> its row (creating the ledger table the first time, unless `create`
    is False: `status` only reads)."""
    if not warehouse.table_exists(warehouse.table_id("ops", "schema_migrations")):
        if create:
            warehouse.ensure_datasets(["ops"])
            warehouse.run_file(LEDGER_DDL)
        return {}
    rows = warehouse.rows("SELECT version, name, checksum, applied_at FROM `{{ ops }}.schema_migrations`",
                          source="ops.schema_migrations")
    return {int(row["version"]): row for row in rows}


def status(warehouse: Warehouse, folder: Path = MIGRATIONS_DIR, *,
           create: bool = True) -> tuple[list[Migration], list[Migration]]:
    """(applied, pending) migrations; raises MigrationError when the ledger and the files disagree."""
    migrations, ledger = load(folder), applied(warehouse, create=create)
    known = {migration.version: migration for migration in migrations}
    unknown = sorted(set(ledger) - set(known))
    if unknown:
        names = ", ".join(f"{version:04d} ({ledger[version]['name']})" for version in unknown)
        raise MigrationError(
            f"{warehouse.table_id('ops', 'schema_migrations')} has migration(s) "
            f"{names} that this release does not have in "
            f"{folder}: a newer release migrated this warehouse. Deploy that release (or newer); migrations "
            "are forward-only, an older release must not write to the newer tables")
    changed = [m for m in migrations if m.version in ledger and ledger[m.version]["checksum"] != m.checksum]
    if changed:
        raise MigrationError("; ".join(
            f"{m.source} changed after it was applied on {ledger[m.version]['applied_at']:%Y-%m-%d %H:%M} UTC "
            f"(checksum {ledger[m.version]['checksum'][:12]}... then, {m.checksum[:12]}... now)" for m in changed)
            + ". An applied migration is never edited: restore the file (git log -p -- the file) and put the "
            "change in a new migration with the next number")
    return ([m for m in migrations if m.version in ledger], [m for m in migrations if m.version not in ledger])


def migrate(warehouse: Warehouse, *, folder: Path = MIGRATIONS_DIR, applied_by: str = "retention.migrations") -> list[str]:
    """Apply every pending migration in version order and record each; returns their file names.
    Safe to run twice and at once from two tasks: each step is idempotent, and a version is
    recorded once (insert-only, keyed by version)."""
    done, pending = status(warehouse, folder)
    names = []
    for migration in pending:
        try:
            ran = sum(steps.run(warehouse, step)
                      for step in steps.parse(migration.path.read_text(encoding="utf-8"), migration.source))
        except MigrationError:
            raise
        except Exception as error:
            raise MigrationError(f"{migration.source} failed: {error}. Nothing after it was applied and it is not "
                                 "recorded: fix the cause (or the migration, which is not applied yet), then run "
                                 "`python -m retention.migrations apply` or clear the task") from error
        warehouse.insert_missing(warehouse.table_id("ops", "schema_migrations"), [{
            "version": migration.version, "name": migration.name, "checksum": migration.checksum,
            "applied_at": dt.datetime.now(dt.UTC), "applied_by": applied_by, "statements": ran,
        }], key=["version"])
        log.info("applied migration %s (%s statements run)", migration.source, ran)
        names.append(migration.path.name)
    if not pending:
        log.info("warehouse schema is current: %s migration(s) applied, none pending", len(done))
    return names
