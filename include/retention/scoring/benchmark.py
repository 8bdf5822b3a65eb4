"""Scoring at scale: a million customers, from the warehouse and back, in chunks.

    python -m retention.scoring.benchmark [--sizes 100000,1000000] [--chunk-rows 20000] [--in-memory-only]
        [--out docs/scoring_benchmark.md]

For each size, in a fresh temporary folder: one process trains the champion the weekly DAG
would (quick grid, on the labelled IBM export) and generates that many customers from the
IBM distribution (each a copy of a random IBM customer with tenure, charges and data use
jittered) into `ml.churn_features` of a persistent local BigQuery. Then, each in a fresh
process pinned to one CPU core:

- *scoring alone* (first size only): the worker's part on chunks already in memory,
  probabilities only, then everything `score_customers` computes (with the SHAP reasons of
  the medium and high bands); the same for the former weekly champion through the former
  code path, on the same chunks, so the speed-up is a ratio measured in one run;
- *end to end*: `score_week` (read the week from the warehouse a chunk at a time, score,
  append to staging) and `publish_scores` (rank, bands, newly at risk, MERGE), as the DAG
  does. Its process's peak resident memory is the scoring's alone; the emulator is another
  process, reported apart (on BigQuery it is not the worker's memory at all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from retention.config import PROJECT_ROOT

WEEK = dt.date(2026, 11, 30)


def generate(reference, rows: int, chunk_rows: int, seed: int = 7):
    """Chunks of synthetic feature rows drawn from the IBM customers (`reference`)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    for start in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - start)
        chunk = reference.iloc[rng.integers(0, len(reference), n)].reset_index(drop=True)
        chunk["customer_id"] = [f"BM-{i:08d}" for i in range(start, start + n)]
        chunk["snapshot_date"] = WEEK
        tenure = (chunk["tenure_months"].astype(float) + rng.integers(-3, 4, n)).clip(0, 72)
        chunk["tenure_months"] = tenure.astype("Int64")
        for column in ("monthly_charges", "avg_monthly_gb_download", "avg_monthly_long_distance_charges"):
            chunk[column] = (chunk[column].astype(float) * rng.normal(1.0, 0.05, n)).round(2)
        chunk["total_charges"] = (chunk["monthly_charges"] * tenure.clip(lower=1)).round(2)
        chunk["charges_per_tenure_month"] = chunk["total_charges"] / tenure.clip(lower=1)
        chunk["churn_label"] = pd.Series([None] * n, dtype="boolean")
        chunk["ibm_churn_score"] = pd.Series([None] * n, dtype="Int64")
        yield chunk


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _process_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _pin_one_core() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def setup(rows: int, chunk_rows: int, work: Path) -> dict:
    """Train and register the champion, generate `rows` customers into a persistent local
    BigQuery under `work`, and keep the IBM reference rows for the in-memory measurement."""
    import pyarrow as pa

    from retention.emulator import LocalBigQuery
    from retention.modeling.benchmark import load_bundled_features
    from retention.modeling.candidates import former_quick_grid
    from retention.modeling.registry import register
    from retention.modeling.train import train
    from retention.warehouse import Warehouse

    reference = load_bundled_features()  # its own short-lived emulator
    reference.to_pickle(work / "reference.pkl")
    with LocalBigQuery(work / "bigquery") as bq:
        os.environ.update(bq.environment())
        warehouse = Warehouse.connect()
        warehouse.ensure_datasets()
        started = time.perf_counter()
        result = train(reference, seeds=(0,))
        train_seconds = time.perf_counter() - started
        register(warehouse, result, dt.date(2025, 12, 29), reference)
        (work / "champion.pkl").write_bytes(pickle.dumps(result.model))
        # What the weekly DAG trained before the scoring speed-up, for the same-run comparison.
        former = train(reference, former_quick_grid(), seeds=(0,)).model
        (work / "former.pkl").write_bytes(pickle.dumps(former))
        if rows == 0:
            return {"train_seconds": train_seconds, "load_seconds": 0.0}
        warehouse.run_file("ml/churn_features/create.sql")
        table = warehouse.client.get_table(warehouse.table_id("ml", "churn_features"))
        arrow_schema = pa.schema([pa.field(f.name, _arrow_type(f.field_type)) for f in table.schema])
        started = time.perf_counter()
        for i, chunk in enumerate(generate(reference, rows, chunk_rows)):
            arrow = pa.Table.from_pandas(chunk[[f.name for f in table.schema]], schema=arrow_schema, preserve_index=False)
            warehouse.load_arrow(table.full_table_id.replace(":", "."), arrow, table.schema, append=i > 0)
        return {"train_seconds": train_seconds, "load_seconds": time.perf_counter() - started}


def _timed(work, chunks) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) to run `work` on every chunk."""
    started, cpu = time.perf_counter(), time.thread_time()
    for chunk in chunks:
        work(chunk)
    return time.perf_counter() - started, time.thread_time() - cpu


def score_in_memory(work: Path, rows: int, chunk_rows: int, repeats: int = 5, former_rows: int = 20_000) -> dict:
    """The worker's part alone, one core, on generated chunks already in memory: the champion
    through score_frame, and the former champion through the former code path (the pipelines'
    own transform and predict_proba, XGBoost's and LightGBM's own pred_contribs), on the first
    `former_rows` of the same chunks (it is 10x slower; its rate is what the ratio needs).
    Each rate is measured `repeats` times; the medians are reported, of wall time and of the
    CPU time of the scoring thread (on a shared machine the wall time is mostly waiting)."""
    import pandas as pd

    from retention.modeling.features import model_inputs
    from retention.scoring.score import RiskBands, score_frame

    _pin_one_core()
    reference = pd.read_pickle(work / "reference.pkl")  # noqa: S301 - written by setup() above
    model = pickle.loads((work / "champion.pkl").read_bytes())  # noqa: S301 - written by setup() above
    former = pickle.loads((work / "former.pkl").read_bytes())  # noqa: S301 - written by setup() above
    bands = RiskBands.from_env()
    chunks = list(generate(reference, rows, chunk_rows, seed=11))
    former_chunks = list(generate(reference, min(rows, former_rows), chunk_rows, seed=11))
    measured = {"rows": rows, "former_rows": min(rows, former_rows), "repeats": repeats,
                "load_before": os.getloadavg()[0], "members": [name for name, _, _ in model.members],
                "former_members": [name for name, _, _ in former.members]}
    for label, subject, subject_chunks, probabilities, everything in (
        ("", model, chunks, lambda m, c: m.predict_inputs(model_inputs(c, m.features)),
         lambda m, c: score_frame(m, c, bands, "benchmark")),
        ("former_", former, former_chunks, _former_probabilities, lambda m, c: _former_score_frame(m, c, bands)),
    ):
        subject.use_threads(1)
        score_frame(subject, subject_chunks[0].head(2000), bands, "warm-up")  # lazily built tables, imports
        n = sum(len(c) for c in subject_chunks)
        for kind, step in (("probability", probabilities), ("scoring", everything)):
            times = [_timed(lambda c, step=step, subject=subject: step(subject, c), subject_chunks)
                     for _ in range(repeats)]
            measured[f"{label}{kind}_rows_per_second"] = float(np.median([n / wall for wall, _ in times]))
            measured[f"{label}{kind}_rows_per_cpu_second"] = float(np.median([n / cpu for _, cpu in times]))
            measured[f"{label}{kind}_rows_per_cpu_second_all"] = [round(n / cpu) for _, cpu in times]
        explained = sum(int((everything(subject, c)["churn_probability"] >= bands.watch).sum()) for c in subject_chunks)
        measured[f"{label}explained_share"] = explained / n
    measured["load_after"] = os.getloadavg()[0]
    return measured


def _former_probabilities(model, chunk):
    from retention.modeling.features import model_inputs

    return _former_blend(model, model_inputs(chunk, model.features))


def _former_blend(model, inputs):
    """The weekly champion's probabilities as scoring computed them before: the pipelines' own steps."""
    transformed, blended = {}, np.zeros(len(inputs))
    for _, pipeline, weight in model.members:
        prepare = pipeline.named_steps["prepare"]
        key = repr([(name, repr(step)) for name, step, _ in prepare.transformers])
        if key not in transformed:
            transformed[key] = prepare.transform(inputs)
        blended += weight * pipeline.named_steps["model"].predict_proba(transformed[key])[:, 1]
    return model.calibrator.predict(blended)


def _former_score_frame(model, chunk, bands):
    """score_frame as it was: the same outputs, with the former probabilities and reasons from
    XGBoost's DMatrix `pred_contribs` and LightGBM's `pred_contrib` (through the pipelines' transform)."""
    from xgboost import DMatrix

    explainer = model.explainer
    original = type(explainer).contributions

    def contributions(self, inputs):
        total = np.zeros((len(inputs), len(self.reasons_of)))
        weight_sum = sum(m.weight for m in self.members)
        for member in self.members:
            transformed = np.asarray(member.prepare.transform(inputs), dtype=np.float32)
            if member.family == "xgboost":
                raw = member.model.get_booster().predict(DMatrix(transformed), pred_contribs=True)
            else:
                raw = member.model.booster_.predict(transformed, pred_contrib=True)
            total += (member.weight / weight_sum) * (raw[:, :-1] @ member.membership)
        return total

    from retention.scoring.score import score_frame

    predict_inputs = type(model).predict_inputs
    type(explainer).contributions = contributions
    type(model).predict_inputs = _former_blend
    try:
        return score_frame(model, chunk, bands, "benchmark")
    finally:
        type(explainer).contributions = original
        type(model).predict_inputs = predict_inputs


def score_end_to_end(work: Path, chunk_rows: int) -> dict:
    """What score_customers and publish_scores do, one core, in a fresh process: its peak
    memory is the scoring's alone."""
    from retention.emulator import LocalBigQuery
    from retention.scoring.score import publish_scores, score_week
    from retention.warehouse import Warehouse

    _pin_one_core()
    with LocalBigQuery(work / "bigquery") as bq:
        os.environ.update(bq.environment())
        warehouse = Warehouse.connect()
        started = time.perf_counter()
        staged = score_week(warehouse, WEEK, chunk_rows=chunk_rows)
        scored_seconds = time.perf_counter() - started
        published = publish_scores(warehouse, WEEK)
        seconds = time.perf_counter() - started
        emulator_peak = _process_rss_mb(bq.pid) if bq.pid else float("nan")
    return {
        "rows": staged["rows"], "end_to_end_seconds": seconds, "end_to_end_rows_per_second": staged["rows"] / seconds,
        "score_week_seconds": scored_seconds, "scoring_seconds_in_end_to_end": staged["seconds_scoring"],
        "publish_seconds": seconds - scored_seconds, "at_risk": published["at_risk"],
        "worker_peak_rss_mb": _peak_rss_mb(), "emulator_peak_rss_mb": emulator_peak,
    }


def _arrow_type(kind: str):
    import pyarrow as pa

    return {"DATE": pa.date32(), "STRING": pa.string(), "FLOAT": pa.float64(), "FLOAT64": pa.float64(),
            "INTEGER": pa.int64(), "INT64": pa.int64(), "BOOLEAN": pa.bool_(), "BOOL": pa.bool_()}[kind]


def report(results: list[dict], alone: dict, chunk_rows: int, previous_end_to_end: str = "",
           command: str = "python -m retention.scoring.benchmark") -> str:
    lines = [
        "# Scoring benchmark",
        "",
        f"Generated by `{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, every measurement pinned to one core, chunks of "
        f"{chunk_rows:,} rows, local BigQuery emulator. Champion: what the weekly DAG trains (quick grid on "
        f"the labelled IBM export): {', '.join(alone['members'])}, weighted and Platt-calibrated.",
        "",
        f"**Scoring alone** ({alone['rows']:,} generated customers in memory, in a process pinned to one core with "
        f"every library at one thread; each rate measured {alone['repeats']} times, medians; the former champion on "
        f"the first {alone['former_rows']:,} of the same rows). The machine's load average was "
        f"{alone['load_before']:.1f} before and {alone['load_after']:.1f} after, on {os.cpu_count()} cores: the "
        "scoring process had a fraction of its core, so the one-core rate is rows per CPU second of the scoring "
        "thread, and the wall-clock rate is given beside it.",
        "",
        "| in the same run, same chunks | champion | probabilities: rows per CPU s (wall rows/s) "
        "| everything `score_customers` computes: rows per CPU s (wall rows/s) |",
        "|---|---|---|---|",
        f"| before: former weekly champion, former code path | {' + '.join(alone['former_members'])} "
        f"| {alone['former_probability_rows_per_cpu_second']:,.0f} "
        f"({alone['former_probability_rows_per_second']:,.0f}) "
        f"| {alone['former_scoring_rows_per_cpu_second']:,.0f} ({alone['former_scoring_rows_per_second']:,.0f}) |",
        f"| now | {' + '.join(alone['members'])} "
        f"| **{alone['probability_rows_per_cpu_second']:,.0f}** ({alone['probability_rows_per_second']:,.0f}) "
        f"| **{alone['scoring_rows_per_cpu_second']:,.0f}** ({alone['scoring_rows_per_second']:,.0f}) |",
        f"| ratio (CPU) | "
        f"| {alone['probability_rows_per_cpu_second'] / alone['former_probability_rows_per_cpu_second']:.1f}x "
        f"| {alone['scoring_rows_per_cpu_second'] / alone['former_scoring_rows_per_cpu_second']:.1f}x |",
        f"| goal | | 100,000 ({'met' if alone['probability_rows_per_cpu_second'] >= 100_000 else 'NOT met'}) "
        f"| 20,000 ({'met' if alone['scoring_rows_per_cpu_second'] >= 20_000 else 'NOT met'}) |",
        "",
        f"Every repetition, rows per CPU s: probabilities {alone['probability_rows_per_cpu_second_all']}, everything "
        f"{alone['scoring_rows_per_cpu_second_all']}. Everything includes probabilities, segments, CLTV, revenue at "
        f"risk and the top three SHAP reasons for the {alone['explained_share']:.0%} in the medium and high bands.",
        "",
        "Now: the random forest and LightGBM are no longer blended in (they bought 0.0003 ROC AUC, see "
        "docs/churn_model_benchmark.md); the preparation is the fitted encoder's categories, looked up by Arrow "
        "(`pyarrow.compute.index_in`) in the Arrow-backed text the warehouse returns (retention.modeling.fast); "
        "XGBoost predicts with `inplace_predict`; its exact TreeSHAP reasons come "
        "from a table per tree (retention.modeling.treeshap, equal to XGBoost's `pred_contribs` within 1e-5).",
        "",
        "**End to end** (`score_week` reading the week from the warehouse a chunk at a time, scoring, appending "
        "each chunk to staging as Parquet; then `publish_scores`: ranks, bands, newly at risk, one MERGE), each size "
        "in a fresh process, so the peak is the scoring's own:",
        "",
        "| customers | end to end (s) | rows/s | of which scoring in the worker (s) | publish in the warehouse (s) "
        "| worker peak memory (MB) | emulator peak memory (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    if not results:
        return "\n".join(lines[: lines.index("**End to end** (`score_week` reading the week from the warehouse a chunk "
                                            "at a time, scoring, appending each chunk to staging as Parquet; then "
                                            "`publish_scores`: ranks, bands, newly at risk, one MERGE), each size in a "
                                            "fresh process, so the peak is the scoring's own:")]) + (
            "\nThe end-to-end table below was not re-run with this page (`--in-memory-only`): it is the previous full "
            "run's, made before the scoring speed-up.\n\n" + previous_end_to_end if previous_end_to_end else "")
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['end_to_end_seconds']:,.0f} | {r['end_to_end_rows_per_second']:,.0f} "
            f"| {r['scoring_seconds_in_end_to_end']:,.0f} | {r['publish_seconds']:,.0f} "
            f"| {r['worker_peak_rss_mb']:,.0f} | {r['emulator_peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""For the measured steps: every library's thread pool at one thread, before it loads."""


def _run(*args: str, pinned: bool = False, timeout: float = 3600) -> dict:
    """One step in a fresh process; `pinned`: on one core with one thread per library from the
    start (pinning after the libraries loaded left their thread pools on every core)."""
    command = [sys.executable, "-m", "retention.scoring.benchmark", *args]
    env = {**os.environ, **(ONE_THREAD if pinned else {})}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                              preexec_fn=_pin_one_core if pinned else None)  # noqa: PLW1509 - no threads yet
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"benchmark step {args} took more than {timeout:.0f} s: stopped; measure fewer rows "
                           f"(--in-memory-rows, --sizes) or run on a quieter machine\n{(error.stdout or b'')[-3000:]}")
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"benchmark step {args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m retention.scoring.benchmark")
    parser.add_argument("--sizes", default="100000,1000000", help="customer counts, one fresh process each")
    parser.add_argument("--in-memory-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5, help="measurements of each rate; medians are reported")
    parser.add_argument("--former-rows", type=int, default=20_000,
                        help="rows the former champion (10x slower) is measured on, for the ratio")
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "scoring_benchmark.md")
    parser.add_argument("--in-memory-only", action="store_true",
                        help="measure scoring alone; keep the end-to-end table of the existing --out file")
    parser.add_argument("--phase", choices=("setup", "alone", "end-to-end"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        os.environ["RETENTION_ARTIFACT_STORE"] = str(args.work / "artifacts")
        if args.phase == "setup":
            result = setup(args.rows, args.chunk_rows, args.work)
        elif args.phase == "alone":
            result = score_in_memory(args.work, args.rows, args.chunk_rows, args.repeats, args.former_rows)
        else:
            result = score_end_to_end(args.work, args.chunk_rows)
        print("RESULT " + json.dumps(result))
        return 0
    results, alone = [], None
    sizes = [] if args.in_memory_only else [int(s) for s in args.sizes.split(",")]
    for size in sizes or [0]:
        work = Path(tempfile.mkdtemp(prefix="retention-scoring-benchmark-"))
        try:
            print(f"{size:,} customers: training the champion and generating the week ...", flush=True)
            prepared = _run("--phase", "setup", "--rows", str(size), "--chunk-rows", str(args.chunk_rows),
                            "--work", str(work))
            if alone is None:
                print(f"scoring {args.in_memory_rows:,} customers in memory ...", flush=True)
                alone = _run("--phase", "alone", "--rows", str(args.in_memory_rows), "--chunk-rows",
                             str(args.chunk_rows), "--repeats", str(args.repeats), "--former-rows",
                             str(args.former_rows), "--work", str(work), pinned=True)
                print(json.dumps(alone, indent=1), flush=True)
            if size:
                print(f"scoring {size:,} customers end to end ...", flush=True)
                measured = _run("--phase", "end-to-end", "--chunk-rows", str(args.chunk_rows), "--work", str(work),
                                pinned=True)
                results.append({**prepared, **measured, "chunk_rows": args.chunk_rows})
                print(json.dumps(results[-1], indent=1), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    previous = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    kept = previous[previous.index("**End to end**"):] if "**End to end**" in previous else ""
    command = " ".join(["python -m retention.scoring.benchmark", *(argv if argv is not None else sys.argv[1:])])
    text = report(results, alone, args.chunk_rows, kept if args.in_memory_only else "", command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
