"""Run the platform on this machine: the weekly cycle end to end, or the Airflow UI.

    python -m retention.local demo [--weeks N] [--last-week YYYY-MM-DD]
    python -m retention.local airflow-ui          # UI on RETENTION_AIRFLOW_PORT (default 8080)
    python -m retention.local backfill --from-date YYYY-MM-DD --to-date YYYY-MM-DD

All use a persistent local BigQuery under `.local/bigquery/` on port
`RETENTION_EMULATOR_PORT` (default 9050), an Airflow home under `.local/airflow/` (SQLite),
and the synthetic weekly history as input (`RETENTION_TELCO_SNAPSHOT_SOURCE=synthetic`,
contacts generated for each week's customers) unless those variables say otherwise. If an
emulator already answers on that port (the UI command left running), the demo uses it
instead of starting a second one on the same files. `RETENTION_LOCAL_DIR` moves `.local/`.
The Airflow side of `airflow-ui` and `backfill` (where the UI listens, what it replays on
start, when a backfill is refused) is `retention.local_airflow`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retention.config import LAYERS, Settings
from retention.outreach.message import DEMO_OPT_OUT_NUMBER
from retention.outreach.transport_setup import SIMULATED_NOW_ENV
from retention.emulator import LOCAL_STATE_DIR, LocalBigQuery
from retention.local_airflow import airflow_environment, airflow_ui, backfill, create_pools, run_airflow

log = logging.getLogger("retention.local")

# The DAGs of the weekly cycle, in the order one week flows through them.
WEEKLY_CYCLE = ("telco_ingest", "churn_weekly", "senior_outreach")
MONTHLY_CYCLE = ("places_refresh",)


def local_state_dir() -> Path:
    return Path(os.environ.get("RETENTION_LOCAL_DIR", LOCAL_STATE_DIR))


def input_environment() -> dict[str, str]:
    """The weekly inputs of local runs (the synthetic history, unless configured otherwise)
    and where their model artifacts go."""
    return {
        "RETENTION_TELCO_SNAPSHOT_SOURCE": os.environ.get("RETENTION_TELCO_SNAPSHOT_SOURCE", "synthetic"),
        "RETENTION_CONTACTS_SOURCE": os.environ.get("RETENTION_CONTACTS_SOURCE", "synthetic"),
        "RETENTION_ARTIFACT_STORE": os.environ.get("RETENTION_ARTIFACT_STORE", str(local_state_dir() / "artifacts")),
        # Local runs send to the local sink: a placeholder opt-out number, refused by a real transport.
        "RETENTION_SMS_OPT_OUT_NUMBER": os.environ.get("RETENTION_SMS_OPT_OUT_NUMBER", DEMO_OPT_OUT_NUMBER),
        "RETENTION_SMS_SINK_PATH": os.environ.get("RETENTION_SMS_SINK_PATH", str(local_state_dir() / "outbox" / "sms.jsonl")),
    }


def step_environment(dag_id: str, day: dt.date) -> dict[str, str]:
    """What one demo step needs beyond the rest: the outreach of a past week acts at 10:00 KST on
    its Monday (a simulated time, accepted by the local sink only), so replaying November
    sends November's messages in November's send window, every time the demo runs."""
    if dag_id != "senior_outreach":
        return {}
    return {SIMULATED_NOW_ENV: f"{day.isoformat()}T10:00:00+09:00"}


@contextmanager
def local_bigquery() -> Iterator[dict[str, str]]:
    """The persistent local BigQuery, reused if already running; yields its environment."""
    port = int(os.environ.get("RETENTION_EMULATOR_PORT", "9050"))
    emulator = LocalBigQuery(local_state_dir() / "bigquery" / "data", port=port)
    if emulator.answers():
        print(f"Using the local BigQuery already running on {emulator.host}")
        yield emulator.environment()
        return
    print(f"Starting the local BigQuery on {emulator.host} (data in {emulator.data_dir})")
    with emulator:
        yield emulator.environment()
    print("Stopped the local BigQuery")


def monday_on_or_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def demo(weeks: int, last_week: dt.date) -> int:
    """Run every week through the weekly cycle, in order, then print what the warehouse holds."""
    dates = [last_week - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    airflow_home = local_state_dir() / "airflow"
    logs = local_state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # The monthly DAGs run once for each month the weeks touch, before that month's first week.
    steps = []
    for week in dates:
        if not any(day == week.replace(day=1) for _, day in steps):
            steps += [(dag_id, week.replace(day=1)) for dag_id in MONTHLY_CYCLE]
        steps += [(dag_id, week) for dag_id in WEEKLY_CYCLE]
    print(f"Running {weeks} week(s), {dates[0]} to {dates[-1]}, through {', '.join(WEEKLY_CYCLE)}, "
          f"and {', '.join(MONTHLY_CYCLE)} for each month")
    with local_bigquery() as bq_env:
        env = {
            **os.environ, **airflow_environment(airflow_home), **bq_env, **input_environment(),
            "RETENTION_RETRY_DELAY_SECONDS": "2",
            # `airflow dags test` cannot run a DAG with deadline alerts in Airflow 3.3.2
            # (retention/operations/deadlines.py); the scheduler of `make airflow-ui` has them.
            "RETENTION_DEADLINE_ALERTS": "off",
        }
        if run_airflow(["db", "migrate"], env, logs / "airflow-db-migrate.log") != 0 or not create_pools(env, logs):
            print(f"Airflow could not prepare its database; see {logs / 'airflow-db-migrate.log'}")
            return 1
        for dag_id, day in steps:
            log_file = logs / f"{dag_id}-{day}.log"
            print(f"  {dag_id:<18} {day}  ...", end="", flush=True)
            code = run_airflow(["dags", "test", dag_id, day.isoformat()], {**env, **step_environment(dag_id, day)},
                               log_file)
            if code != 0:
                print(" FAILED")
                print(_failure_excerpt(log_file))
                print(f"Full log: {log_file}")
                return code
            print(" ok")
        os.environ.update(bq_env)
        print_summary(dates)
        print_places()
        print_scores(dates)
        print_outreach(dates)
        from retention.marts.report import write_report
        from retention.warehouse import Warehouse

        report = write_report(Warehouse.connect(Settings.from_env()), local_state_dir() / "report" / "churn_report.html")
        print(f"\nThe marketers' view, offline (open it in a browser): {_shown(report)}")
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _failure_excerpt(log_file: Path, limit: int = 12) -> str:
    lines = log_file.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "Error:" in line or "Error " in line.split("]")[0]]
    return "\n".join(dict.fromkeys(errors[-limit:])) or "\n".join(lines[-limit:])


def print_summary(dates: list[dt.date]) -> None:
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect(Settings.from_env())
    print("\nWhat the weekly cycle wrote (local BigQuery, project %s):" % warehouse.settings.project)
    print(f"  {'table':<40} {'week':<12} {'rows':>8}")
    for table_id, date_column in _tables_with_dates(warehouse):
        if date_column:
            counts = warehouse.rows(
                f"SELECT {date_column} AS week, COUNT(*) AS n FROM `{table_id}` "
                f"WHERE {date_column} IN UNNEST(@weeks) GROUP BY week ORDER BY week",
                {"weeks": dates},
            )
            for row in counts:
                print(f"  {table_id.split('.', 1)[1]:<40} {row['week']!s:<12} {row['n']:>8,}")
        else:
            print(f"  {table_id.split('.', 1)[1]:<40} {'(all)':<12} {warehouse.count_rows(table_id):>8,}")


def print_places() -> None:
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect(Settings.from_env())
    rows = warehouse.rows(
        "SELECT source, place_type, ANY_VALUE(origin) AS origin, MAX(crawl_date) AS crawl, COUNT(*) AS places, "
        "COUNTIF(geocode_precision IN ('address', 'dong')) AS at_dong FROM `{{ core }}.places` "
        "WHERE valid_to IS NULL GROUP BY source, place_type ORDER BY source, place_type", source="places summary",
    )
    print("\nPlaces the outreach points to (core.places, current):")
    print(f"  {'type':<26} {'places':>6} {'at dong precision':>18}  crawl")
    for row in rows:
        print(f"  {row['place_type']:<26} {row['places']:>6,} {row['at_dong'] / row['places']:>18.1%}  "
              f"{row['crawl']:%Y-%m} ({row['origin'].replace('_', ' ')})")
    total, at_dong = sum(r["places"] for r in rows), sum(r["at_dong"] for r in rows)
    if total:
        print(f"  {'all':<26} {total:>6,} {at_dong / total:>18.1%}")
    store = input_environment()["RETENTION_ARTIFACT_STORE"].rstrip("/")
    print(f"  map: {_shown(Path(store) / 'places' / 'places_map_latest.png')}")


def print_scores(dates: list[dt.date]) -> None:
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect(Settings.from_env())
    rows = warehouse.rows(
        "SELECT snapshot_date AS week, COUNT(*) AS customers, COUNTIF(at_risk) AS at_risk, "
        "COUNTIF(newly_at_risk) AS newly, LOGICAL_AND(newly_at_risk IS NULL) AS baseline, "
        "ANY_VALUE(model_version) AS model FROM `{{ ml }}.churn_scores` WHERE snapshot_date IN UNNEST(@weeks) "
        "GROUP BY week ORDER BY week",
        {"weeks": dates}, source="scores per week",
    )
    print("\nChurn scores (ml.churn_scores):")
    print(f"  {'week':<12} {'customers':>9} {'at risk':>8} {'newly at risk':>14}  model")
    for row in rows:
        newly = "baseline" if row["baseline"] else f"{row['newly']:,}"
        print(f"  {row['week']!s:<12} {row['customers']:>9,} {row['at_risk']:>8,} {newly:>14}  {row['model']}")
    for row in warehouse.rows(
        "SELECT model_version, status, roc_auc, pr_auc, decision FROM `{{ ml }}.model_registry` ORDER BY trained_at"
    ):
        print(f"  model {row['model_version']}: {row['status']}, cross-validated ROC AUC {row['roc_auc']:.3f}, "
              f"PR AUC {row['pr_auc']:.3f} ({row['decision']})")


def print_outreach(dates: list[dt.date]) -> None:
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect(Settings.from_env())
    weeks = {row["week"]: row for row in warehouse.rows(
        "SELECT snapshot_date AS week, COUNT(*) AS seniors, COUNTIF(excluded_reason IS NOT NULL) AS excluded, "
        "COUNTIF(campaign_group = 'holdout') AS holdout, COUNTIF(campaign_group = 'message') AS message "
        "FROM `{{ outreach }}.campaign_audience` WHERE snapshot_date IN UNNEST(@weeks) GROUP BY week",
        {"weeks": dates}, source="audience per week")}
    states = warehouse.rows(
        "SELECT snapshot_date AS week, state, COUNT(*) AS n FROM `{{ outreach }}.messages` "
        "WHERE snapshot_date IN UNNEST(@weeks) GROUP BY week, state ORDER BY week, state",
        {"weeks": dates}, source="outbox per week")
    print("\nSenior outreach (outreach.campaign_audience, outreach.messages; SMS simulated, local sink):")
    print(f"  {'week':<12} {'seniors':>7} {'excluded':>8} {'holdout':>7} {'message':>7}  outbox")
    for week in dates:
        row = weeks.get(week)
        if row is None:
            print(f"  {week!s:<12} {'-':>7}  (baseline week: nobody is newly at risk)")
            continue
        outbox = ", ".join(f"{s['n']:,} {s['state']}" for s in states if s["week"] == week) or "-"
        print(f"  {week!s:<12} {row['seniors']:>7,} {row['excluded']:>8,} {row['holdout']:>7,} {row['message']:>7,}  "
              f"{outbox}")
    for row in warehouse.rows(
        "SELECT excluded_reason, COUNT(*) AS n FROM `{{ outreach }}.campaign_audience` "
        "WHERE snapshot_date IN UNNEST(@weeks) AND excluded_reason IS NOT NULL GROUP BY excluded_reason "
        "ORDER BY n DESC, excluded_reason", {"weeks": dates}, source="exclusions"):
        print(f"    excluded, {row['excluded_reason']}: {row['n']:,}")
    print(f"  messages: {_shown(Path(input_environment()['RETENTION_SMS_SINK_PATH']))}")
    for row in warehouse.rows("SELECT * FROM `{{ marts }}.campaign_results` WHERE cohort_week IS NULL",
                              source="marts.campaign_results"):
        difference = ("no outcome yet" if row["churn_difference"] is None else
                      f"difference {row['churn_difference']:+.1%} (95% interval {row['difference_ci_low']:+.1%} to "
                      f"{row['difference_ci_high']:+.1%})")
        print(f"  campaign {row['campaign_id']} (marts.campaign_results, all weeks): messaged "
              f"{row['messaged_customers']:,} (left {row['messaged_left']:,}), holdout {row['holdout_customers']:,} "
              f"(left {row['holdout_left']:,}); {difference}")


RUN_LOGS = ("ops.task_runs", "ops.alerts")
"""Logs of the runs themselves (they grow with every run): not part of what a week wrote."""


def _tables_with_dates(warehouse) -> list[tuple[str, str | None]]:
    """Every table of every layer, with the column it is partitioned by (if any)."""
    found = []
    for layer in LAYERS:
        dataset = warehouse.dataset_id(layer)
        for item in sorted(warehouse.client.list_tables(dataset), key=lambda t: t.table_id):
            if item.table_type != "TABLE" or item.table_id.startswith("_"):
                continue
            if f"{layer}.{item.table_id}" in RUN_LOGS:
                continue
            table = warehouse.client.get_table(item)
            field = table.time_partitioning.field if table.time_partitioning else None
            found.append((table.full_table_id.replace(":", "."), field))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retention.local", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run the weekly cycle end to end on the local emulator")
    demo_parser.add_argument("--weeks", type=int, default=4, help="how many consecutive weeks to run (default 4)")
    demo_parser.add_argument(
        "--last-week",
        type=dt.date.fromisoformat,
        default=monday_on_or_before(dt.date.today()),
        help="Monday of the last week to run (default: this week's Monday)",
    )
    commands.add_parser("airflow-ui", help="start Airflow on the local emulator (UI on RETENTION_AIRFLOW_PORT, "
                                           "default 8080)")
    backfill_parser = commands.add_parser("backfill", help="backfill a date range through the running scheduler")
    backfill_parser.add_argument("--dag-id", default="telco_ingest")
    backfill_parser.add_argument("--from-date", type=dt.date.fromisoformat, required=True)
    backfill_parser.add_argument("--to-date", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # `kill` (SIGTERM) as well as Ctrl-C unwinds normally, so the emulator and Airflow's
    # processes this command started are stopped in order, never orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if args.command == "demo":
        return demo(args.weeks, monday_on_or_before(args.last_week))
    if args.command == "backfill":
        return backfill(args.dag_id, args.from_date, args.to_date)
    return airflow_ui()


if __name__ == "__main__":
    sys.exit(main())
