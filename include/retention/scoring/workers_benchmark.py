"""Scoring spread over workers: churn_weekly's mapped shards on the LocalExecutor, 1 slot vs 2.

    python -m retention.scoring.workers_benchmark [--customers 1000000] [--shards 2] [--repeats 1]
        [--out docs/scoring_workers_benchmark.md]

Setup, once, in a fresh temporary folder (`retention.scoring.benchmark.setup`): the champion
the weekly DAG would train (quick grid, labelled IBM export) and N generated customers in
`ml.churn_features` of a persistent local BigQuery. Then, for each repeat, the same run twice,
with 1 and with 2 parallel task slots (`AIRFLOW__CORE__PARALLELISM`), in alternating order:

- a fresh Airflow home (SQLite) and `airflow api-server` on a free loopback port: the
  execution API the LocalExecutor's task processes report to;
- the real `churn_weekly` DAG file, run by `dag.test(use_executor=True)` through the
  LocalExecutor, for the generated week (conf `snapshot_date`), with the week split into
  `--shards` shards. Only `plan_scoring_shards`, the mapped `score_customers` and
  `publish_scores` run (a subset of the DAG; each task in its own process, as on any
  worker): the steps before scoring (features, training, promotion) and the marts after it
  are not what is measured, and the generated week has no `core` tables.

Timed from Airflow's own task records: the scoring span (first shard's start to the last
shard's end) and plan-to-published (plan's start to publish's end). The emulator is one
process serving both workers; its peak memory is reported apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retention.config import PROJECT_ROOT

MEASURED = ("plan_scoring_shards", "score_customers", "publish_scores")


def run_dag(week: dt.date) -> dict:
    """Inside the measured process: one churn_weekly run through the configured executor."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "churn_weekly.py")).dags["churn_weekly"]
    # dag.test ignores mark_success_pattern with an executor: the measured tasks are run as a
    # subset of the DAG instead (each worker still loads the whole DAG file and runs its task).
    measured = dag.partial_subset(task_ids=list(MEASURED), include_upstream=False, include_downstream=False)
    started = time.perf_counter()
    run = measured.test(run_conf={"snapshot_date": week.isoformat()}, use_executor=True)
    wall = time.perf_counter() - started
    tis = run.get_task_instances()
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in tis}
    if str(run.state) != "success":
        raise RuntimeError(f"churn_weekly did not succeed: {states}")
    shards = [ti for ti in tis if ti.task_id == "score_customers"]
    by_id = {ti.task_id: ti for ti in tis if ti.map_index < 0}
    return {
        "wall_seconds": wall,
        "scoring_span_seconds": (max(t.end_date for t in shards) - min(t.start_date for t in shards)).total_seconds(),
        "plan_to_published_seconds": (by_id["publish_scores"].end_date - by_id["plan_scoring_shards"].start_date
                                      ).total_seconds(),
        "shard_seconds": sorted(round((t.end_date - t.start_date).total_seconds(), 1) for t in shards),
        "shards": len(shards),
    }


def _wait_for(url: str, process: subprocess.Popen, seconds: int = 900) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise RuntimeError(f"airflow api-server did not answer on {url} within {seconds}s")


def measure(work: Path, rows: int, shards: int, parallel: int, attempt: int) -> dict:
    """One run with `parallel` task slots: its own Airflow home and API server, the shared emulator."""
    from retention.emulator import LocalBigQuery, free_port
    from retention.local_airflow import _stop, airflow_environment
    from retention.scoring.benchmark import WEEK, _process_rss_mb

    home = work / f"airflow-{parallel}-{attempt}"
    port = free_port()
    with LocalBigQuery(work / "bigquery") as bq:  # the one setup() filled
        env = {
            **os.environ, **airflow_environment(home), **bq.environment(),
            # Where the API server listens, and the URL task workers reach its execution API at.
            "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallel),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallel),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # Made here for this run only: the API server and the executor must share it.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "RETENTION_ARTIFACT_STORE": str(work / "artifacts"),
            "RETENTION_SCORING_SHARD_ROWS": str(math.ceil(rows / shards)),
            "RETENTION_SCORING_MAX_SHARDS": str(shards),
            # SQLite under load answers a worker's first call slowly; the 5 s default made the
            # worker retry a call that had succeeded, and the task was left "running" for ever.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "120",
            "RETENTION_DEADLINE_ALERTS": "off",  # dag.test cannot run deadline alerts (operations/deadlines.py)
            "RETENTION_RETRY_DELAY_SECONDS": "2",
        }
        airflow = str(Path(sys.executable).parent / "airflow")
        logs = work / "logs"
        logs.mkdir(exist_ok=True)
        with (logs / f"migrate-{parallel}-{attempt}.log").open("wb") as log:
            subprocess.run([airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        with (logs / f"api-server-{parallel}-{attempt}.log").open("wb") as log:
            server = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for(f"http://127.0.0.1:{port}/api/v2/monitor/health", server)
            done = subprocess.run(
                [sys.executable, "-m", "retention.scoring.workers_benchmark", "--phase", "run"],
                env=env, capture_output=True, text=True,
            )
            (logs / f"run-{parallel}-{attempt}.log").write_text(done.stdout + done.stderr)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if done.returncode != 0 or line is None:
                raise RuntimeError(f"the measured run failed; see {logs}:\n{done.stderr[-3000:]}")
        finally:
            _stop({"api-server": server})  # its own session: the group is its pid
        result = json.loads(line[len("RESULT "):])
        result["emulator_peak_rss_mb"] = _process_rss_mb(bq.pid)
        published = _published_rows(bq, WEEK)
    if published != rows:
        raise RuntimeError(f"the run published {published} scores for {rows} customers")
    return {**result, "parallel": parallel, "attempt": attempt}


def regenerate(work: Path, rows: int, chunk_rows: int) -> dict:
    """Replace the generated week of an earlier setup's warehouse by `rows` customers, keeping
    its champion (`--reuse`: training again would measure nothing new)."""
    import pandas as pd
    import pyarrow as pa

    from retention.emulator import LocalBigQuery
    from retention.scoring.benchmark import _arrow_type, generate
    from retention.warehouse import Warehouse

    reference = pd.read_pickle(work / "reference.pkl")  # noqa: S301 - written by setup()
    with LocalBigQuery(work / "bigquery") as bq:
        os.environ.update(bq.environment())
        warehouse = Warehouse.connect()
        table = warehouse.client.get_table(warehouse.table_id("ml", "churn_features"))
        if warehouse.count_rows(warehouse.table_id("ml", "churn_features")) == rows:
            return {"train_seconds": float("nan"), "load_seconds": 0.0}  # generated by an earlier --reuse
        arrow_schema = pa.schema([pa.field(f.name, _arrow_type(f.field_type)) for f in table.schema])
        started = time.perf_counter()
        for i, chunk in enumerate(generate(reference, rows, chunk_rows)):
            arrow = pa.Table.from_pandas(chunk[[f.name for f in table.schema]], schema=arrow_schema, preserve_index=False)
            warehouse.load_arrow(table.full_table_id.replace(":", "."), arrow, table.schema, append=i > 0)
        return {"train_seconds": float("nan"), "load_seconds": time.perf_counter() - started}


def _published_rows(bq, week: dt.date) -> int:
    os.environ.update(bq.environment())
    from retention.warehouse import Warehouse

    warehouse = Warehouse.connect()
    return warehouse.count_rows(warehouse.table_id("ml", "churn_scores"), "snapshot_date = @w", {"w": week})


def report(rows: int, shards: int, setup_result: dict, runs: list[dict], command: str) -> str:
    def median(parallel: int, key: str) -> float:
        return statistics.median(r[key] for r in runs if r["parallel"] == parallel)

    lines = [
        "# Scoring spread over workers: LocalExecutor, 1 task slot vs 2",
        "",
        f"Generated by `{command}` on {dt.date.today()} ({platform.machine()}, {os.cpu_count()} CPUs, shared with "
        "other work: compare the ratios, not the seconds). See `include/retention/scoring/workers_benchmark.py` for "
        "what runs.",
        "",
        f"{rows:,} customers in one week, {shards} shards (`RETENTION_SCORING_SHARD_ROWS` = {math.ceil(rows / shards):,}); "
        f"the real `churn_weekly` run by `dag.test(use_executor=True)` on the LocalExecutor with "
        "`AIRFLOW__CORE__PARALLELISM` 1 or 2, each task in its own process, reading its shard over the emulator's "
        "Storage Read API. Setup (champion and generated week, not timed below): "
        + (f"{setup_result['train_seconds']:.0f} s training, " if setup_result["train_seconds"] == setup_result["train_seconds"]
           else "the champion of an earlier setup (`--reuse`), ")
        + (f"{setup_result['load_seconds']:.0f} s loading the week." if setup_result["load_seconds"]
           else "the week generated by an earlier `--reuse` run."),
        "",
        "| task slots | run | scoring span (s) | plan to published (s) | whole run (s) | shard tasks (s) | emulator peak (MB) |",
        "| ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r['parallel']} | {r['attempt'] + 1} | {r['scoring_span_seconds']:,.0f} | "
            f"{r['plan_to_published_seconds']:,.0f} | {r['wall_seconds']:,.0f} | "
            f"{', '.join(f'{s:,.0f}' for s in r['shard_seconds'])} | {r['emulator_peak_rss_mb']:,.0f} |"
        )
    span = median(1, "scoring_span_seconds") / median(2, "scoring_span_seconds")
    whole = median(1, "plan_to_published_seconds") / median(2, "plan_to_published_seconds")
    lines += [
        "",
        f"**Ratio 1 slot / 2 slots (medians over {len(runs) // 2} run(s) each): scoring span {span:.2f}x, "
        f"plan to published {whole:.2f}x** (2.00x would be perfect on two free cores; the emulator, one process "
        "answering both workers' reads and loads, and the other work on this machine take their share).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import shutil

    parser = argparse.ArgumentParser(prog="python -m retention.scoring.workers_benchmark")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "scoring_workers_benchmark.md")
    parser.add_argument("--reuse", type=Path, help="the work folder of an earlier setup: keep its champion, "
                        "regenerate the week at --customers, and keep the folder")
    parser.add_argument("--phase", choices=("run",), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "run":
        from retention.scoring.benchmark import WEEK

        print("RESULT " + json.dumps(run_dag(WEEK)), flush=True)
        return 0
    from retention.scoring.benchmark import _run

    work = args.reuse or Path(tempfile.mkdtemp(prefix="retention-workers-benchmark-"))
    try:
        if args.reuse:
            print(f"{args.customers:,} customers: generating the week (champion of {work}) ...", flush=True)
            prepared = regenerate(work, args.customers, args.chunk_rows)
        else:
            print(f"{args.customers:,} customers: training the champion and generating the week ...", flush=True)
            prepared = _run("--phase", "setup", "--rows", str(args.customers), "--chunk-rows", str(args.chunk_rows),
                            "--work", str(work))
        runs = []
        command = " ".join(["python -m retention.scoring.workers_benchmark", *(sys.argv[1:] if argv is None else argv)])
        for attempt in range(args.repeats):
            for parallel in ((1, 2) if attempt % 2 == 0 else (2, 1)):
                print(f"run {attempt + 1}: {parallel} task slot(s) ...", flush=True)
                runs.append(measure(work, args.customers, args.shards, parallel, attempt))
                print(json.dumps(runs[-1]), flush=True)
            # Written after every pair: a long benchmark stopped early keeps what it measured.
            text = report(args.customers, args.shards, prepared, runs, command)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
    finally:
        if not args.reuse:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
