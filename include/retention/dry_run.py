"""Dry-run every SQL statement the DAGs send, against the configured BigQuery project.

    python -m retention.dry_run [--create-tables] [--sql-dir DIR]

Each file under sql/ is rendered with the project's dataset names and sample parameters and
sent as a BigQuery dry-run job (`dry_run=True, use_query_cache=False`): BigQuery parses, types
and plans it against the real tables and says what it would scan, but runs nothing, bills
nothing and touches no data. A week's publish is checked the way the DAGs send it
(Warehouse.publish_partition: on BigQuery a query job into `table$YYYYMMDD` with
WRITE_TRUNCATE, so the destination's schema is checked too). Every statement BigQuery
rejects is reported with its file and BigQuery's words; the exit status is 1 if any was.

A statement can only be planned against tables that exist. `--create-tables` first creates
the datasets and every table and view, empty, as the DAGs' first tasks do (idempotent DDL; no
row is written): the way to check a project before the first deploy.

Not checked: statements that read a staging table a task makes for one run (named in the
report, with the task), and SQL that the Python code builds itself (the warehouse module's
MERGE of staged rows, counts), which the integration tests run.

Locally (BIGQUERY_EMULATOR_HOST set) it runs against the emulator. Measured there: the emulator
accepts dry-run jobs, changes nothing (no DDL or DML takes effect), reports 0 bytes, and rejects
statements that DuckDB cannot bind (missing tables or columns, type errors); it is a check of
the catalogue and the rendering, not of GoogleSQL (tests/unit/test_sql_pruning.py parses every
file with sqlglot's BigQuery grammar for that).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention.config import LAYERS, SQL_DIR, Settings

if TYPE_CHECKING:
    from retention.warehouse import Warehouse

WEEK = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
# A sample value for each parameter name the SQL files use (typed as the DAGs send them).
SAMPLE_PARAMETERS: dict[str, Any] = {
    "snapshot_date": WEEK, "previous_week": WEEK - dt.timedelta(days=7), "contacts_week": WEEK,
    "customers_week": WEEK, "latest_week": WEEK, "latest_published_week": WEEK, "crawl_date": dt.date(2026, 11, 1),
    "next_crawl_date": dt.date(9999, 12, 31), "published_at": NOW, "scored_at": NOW, "attempt_started_at": NOW,
    "load_id": "dry-run", "campaign_id": "dry-run", "claim_id": "dry-run", "crawl_id": "dry-run",
    "source": "kt_store_finder", "horizon_weeks": 4, "shard": 0, "shards": 1, "watch": 0.3, "at_risk": 0.5,
    "customer_ids": ["dry-run"], "next_week_known": True, "outcome_known": True,
    "weeks": [WEEK], "seed": 0, "quota_left": 1, "quota_left_senior": 1, "quota_stayed": 1,
    "quota_stayed_senior": 1, "as_of": WEEK, "today": WEEK, "from_week": WEEK - dt.timedelta(days=35),
    "lead_days": 30, "lookback_days": 28, "period_days": 730,
}
IDENTIFIERS = {"core_table": "customers"}
# Files that read a staging table made by one task run: not checkable before that run.
NEEDS_STAGING = {
    "ml/churn_scores/publish.sql": "publish_scores (reads the week's shard staging table)",
    "ml/churn_scores/stage_shard.sql": "score_customers (reads its attempt's table)",
    "outreach/messages/update.sql": "send_messages / check_delivery (reads the staged outcomes)",
    "core/geocode_cache/store.sql": "places_refresh validate_* (reads the staged geocodes)",
}
# The files a week's publish writes into a partition: file -> (layer, table, partition column).
PARTITION_PUBLISHES = {
    "core/customers/publish.sql": ("core", "customers", "snapshot_date"),
    "core/contacts/publish.sql": ("core", "contacts", "snapshot_date"),
    "ml/churn_features/publish.sql": ("ml", "churn_features", "snapshot_date"),
}
_PARAMETER = re.compile(r"@([a-z_]+)")


@dataclass
class Outcome:
    file: str
    status: str  # ok | rejected | not checked
    detail: str = ""
    bytes_processed: int | None = None


def _parameters(sql: str) -> dict[str, Any]:
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    names = set(_PARAMETER.findall(code))
    missing = names - set(SAMPLE_PARAMETERS)
    if missing:
        raise KeyError(f"no sample value for {sorted(missing)}: add one to SAMPLE_PARAMETERS in retention/dry_run.py")
    return {name: SAMPLE_PARAMETERS[name] for name in names}


def check_file(warehouse: Warehouse, path: Path, sql_dir: Path = SQL_DIR) -> Outcome:
    from google.api_core.exceptions import GoogleAPICallError

    from retention.marts.build import metadata
    from retention.warehouse import WarehouseError

    relative = str(path.relative_to(sql_dir))
    if relative in NEEDS_STAGING:
        return Outcome(relative, "not checked", f"needs the staging table of {NEEDS_STAGING[relative]}")
    sql = path.read_text(encoding="utf-8")
    source = f"sql/{relative}"
    if relative.startswith("migrations/"):
        return _check_migration(warehouse, relative, sql, source)
    try:
        params = _parameters(sql)
        destination = None
        if relative in PARTITION_PUBLISHES or (relative.startswith("marts/") and relative.endswith("query.sql")):
            if relative in PARTITION_PUBLISHES:
                layer, table, column = PARTITION_PUBLISHES[relative]
            else:
                layer, table = "marts", relative.split("/")[1]
                meta = metadata(table)
                column = meta.get("partition_by")
                if meta["table"] == "small":  # replaced whole: CREATE OR REPLACE TABLE ... AS
                    sql = f"CREATE OR REPLACE TABLE `{warehouse.table_id(layer, table)}` AS\n{sql}"
            if column:
                from retention.warehouse_partitions import partition_statement

                sql, params, destination = partition_statement(
                    warehouse, warehouse.table_id(layer, table), column, WEEK, sql, params)
        scanned = warehouse.dry_run(sql, params, identifiers=IDENTIFIERS, source=source, destination=destination)
    except (WarehouseError, KeyError) as error:
        return Outcome(relative, "rejected", str(error).splitlines()[0] if str(error) else repr(error))
    except GoogleAPICallError as error:  # the table it writes is not there (yet)
        return Outcome(relative, "rejected", f"{error.message.splitlines()[0]} (before the first deploy: --create-tables)")
    return Outcome(relative, "ok", bytes_processed=scanned)


def _check_migration(warehouse: Warehouse, relative: str, sql: str, source: str) -> Outcome:
    """A migration checked the way `retention.migrations` applies it: statement by statement, a
    step guarded by `-- if column:` only where that column is there (an older warehouse's), the
    `-- view:` / `-- table:` steps through their own files (each checked on its own)."""
    from google.api_core.exceptions import GoogleAPICallError

    from retention.migrations.steps import MigrationError, guard_holds, parse
    from retention.warehouse import WarehouseError

    checked = skipped = 0
    try:
        for step in parse(sql, source):
            if step.view or step.table:
                continue
            if not guard_holds(warehouse, step):
                skipped += 1
                continue
            warehouse.dry_run(step.sql, _parameters(step.sql), identifiers=IDENTIFIERS, source=step.source)
            checked += 1
    except (WarehouseError, MigrationError, KeyError) as error:
        return Outcome(relative, "rejected", str(error).splitlines()[0] if str(error) else repr(error))
    except GoogleAPICallError as error:
        return Outcome(relative, "rejected", f"{error.message.splitlines()[0]} (before the first deploy: --create-tables)")
    detail = f"{checked} statements planned" + (
        f"; {skipped} guarded by `-- if column:` skipped (this warehouse has not that column)" if skipped else "")
    return Outcome(relative, "ok", detail)


def create_tables(warehouse: Warehouse, sql_dir: Path = SQL_DIR) -> None:
    """Every dataset, table and view, empty (the DDL the DAGs' first tasks run; idempotent)."""
    from retention.marts.build import refresh_marts

    warehouse.ensure_datasets(LAYERS)
    ddl = sorted(p for p in sql_dir.rglob("*.sql") if p.name in ("create.sql", "view.sql"))
    pending = [p for p in ddl if "CREATE TABLE" in p.read_text(encoding="utf-8")]
    views = [p for p in ddl if p not in pending]
    for path in pending:
        warehouse.run(path.read_text(encoding="utf-8"), identifiers=IDENTIFIERS, source=str(path))
    warehouse.run((sql_dir / "core/customers/create.sql").read_text(encoding="utf-8"),
                  identifiers={"core_table": "reference_customers"}, source="core/customers/create.sql")
    # Views read other views: create them in rounds until none is left (or none can be made).
    while views:
        made = []
        for path in views:
            try:
                warehouse.run(path.read_text(encoding="utf-8"), identifiers=IDENTIFIERS, source=str(path))
                made.append(path)
            except Exception:  # noqa: BLE001 - a view it reads is not there yet: next round
                continue
        if not made:
            raise RuntimeError(f"could not create the views {[str(p) for p in views]}: run them by hand to see why")
        views = [p for p in views if p not in made]
    from retention import table_options

    table_options.apply_all(warehouse)
    refresh_marts(warehouse, [])


def dry_run_all(warehouse: Warehouse, sql_dir: Path = SQL_DIR) -> list[Outcome]:
    return [check_file(warehouse, path, sql_dir) for path in sorted(sql_dir.rglob("*.sql"))]


def report(outcomes: list[Outcome], target: str) -> str:
    rejected = [o for o in outcomes if o.status == "rejected"]
    lines = [f"dry run of {len(outcomes)} SQL files against {target}:"]
    for outcome in outcomes:
        scanned = f"  would process {outcome.bytes_processed:,} bytes" if outcome.bytes_processed else ""
        lines.append(f"  {outcome.status:<12} sql/{outcome.file}{scanned}{'  ' + outcome.detail if outcome.detail else ''}")
    lines.append(f"{len(rejected)} rejected, {sum(o.status == 'ok' for o in outcomes)} accepted, "
                 f"{sum(o.status == 'not checked' for o in outcomes)} not checked")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.dry_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--create-tables", action="store_true",
                        help="first create the datasets and every table and view, empty (before the first deploy)")
    parser.add_argument("--sql-dir", type=Path, default=SQL_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from retention.warehouse import Warehouse

    settings = Settings.from_env()
    warehouse = Warehouse.connect(settings)
    if args.create_tables:
        create_tables(warehouse, args.sql_dir)
    outcomes = dry_run_all(warehouse, args.sql_dir)
    target = f"the emulator at {settings.emulator_host}" if settings.emulator_host else f"project {settings.project}"
    print(report(outcomes, f"{target} (datasets prefixed {settings.dataset_prefix!r})"))
    return 1 if any(o.status == "rejected" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
