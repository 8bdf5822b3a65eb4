"""Does the bounded training sample cost quality? The sampled model against the full-data one.

    python -m retention.modeling.benchmark --sample [--rows 1000000] [--caps 200000] [--holdout 200000]
        [--folds 5] [--out docs/training_sample_benchmark.md]

A labelled population of `--rows` customer-weeks is drawn from the labelled IBM export
(ingested and featurised by the same code as the DAG on an in-memory emulator): each row a
copy of a random IBM customer with tenure and charges jittered, as the synthetic history
makes its extra customers, labelled "left within 4 weeks" with the history's own weekly
hazards (0.05 for a customer IBM says left, 0.003 otherwise), so the label is noisy as in the
weekly history. `--holdout` further rows, drawn the same way, are kept apart: neither model
ever sees them, and both are judged on them, on the population's own mix. The full-data model
trains on every row; the sampled one on the rows `training_sample.allocate` gives each
(left, senior) stratum under `--cap`, ranked per stratum by a seeded hash (the warehouse uses
FARM_FINGERPRINT; which hash ranks the rows does not change what a random sample is), with
its `sample_weight`. Same candidates (the weekly DAG's quick grid), same folds setting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from retention.config import PROJECT_ROOT

WEEKS = 4
HAZARD_IF_IBM_CHURNED = 0.05
HAZARD_OTHERWISE = 0.003


def population(reference, rows: int, seed: int, prefix: str):
    """`rows` labelled rows drawn from the IBM customers, as described above."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = reference.iloc[rng.integers(0, len(reference), rows)].reset_index(drop=True)
    churned = frame["churn_label"].astype(bool).to_numpy()
    frame["customer_id"] = [f"{prefix}{i:08d}" for i in range(rows)]
    frame["snapshot_date"] = dt.date(2026, 10, 5)
    tenure = (frame["tenure_months"].astype(float) + rng.integers(-3, 4, rows)).clip(0, 72)
    frame["tenure_months"] = tenure.astype("Int64")
    for column in ("monthly_charges", "avg_monthly_gb_download", "avg_monthly_long_distance_charges"):
        frame[column] = (frame[column].astype(float) * rng.normal(1.0, 0.05, rows)).round(2)
    frame["total_charges"] = (frame["monthly_charges"] * tenure.clip(lower=1)).round(2)
    frame["charges_per_tenure_month"] = frame["total_charges"] / tenure.clip(lower=1)
    hazard = np.where(churned, HAZARD_IF_IBM_CHURNED, HAZARD_OTHERWISE)
    frame["churn_label"] = pd.Series(rng.random(rows) < 1 - (1 - hazard) ** WEEKS, dtype="boolean")
    frame["ibm_churn_score"] = pd.Series([None] * rows, dtype="Int64")
    return frame


def stratified_sample(frame, cap: int, seed: int):
    """The rows query.sql would keep (ranked by another seeded hash), with their weights."""
    import pandas as pd

    from retention.modeling.training_sample import STRATA, allocate

    left = frame["churn_label"].astype(bool).to_numpy()
    senior = frame["senior_citizen"].fillna(False).astype(bool).to_numpy()
    counts = {s: int(((left == s[0]) & (senior == s[1])).sum()) for s in STRATA}
    quotas = allocate(counts, cap)
    rank_key = pd.util.hash_pandas_object(frame["customer_id"], index=False, hash_key=f"{seed:016d}").to_numpy()
    kept = []
    for stratum in STRATA:
        rows = np.flatnonzero((left == stratum[0]) & (senior == stratum[1]))
        kept.append(rows[np.argsort(rank_key[rows], kind="stable")[: quotas[stratum]]])
    sample = frame.iloc[np.sort(np.concatenate(kept))].reset_index(drop=True)
    weights = {s: counts[s] / quotas[s] if quotas[s] else 0.0 for s in STRATA}
    s_left = sample["churn_label"].astype(bool).to_numpy()
    s_senior = sample["senior_citizen"].fillna(False).astype(bool).to_numpy()
    sample["sample_weight"] = [weights[a, b] for a, b in zip(s_left, s_senior, strict=True)]
    return sample, counts, quotas


def judge(model, holdout) -> dict:
    from retention.modeling.evaluation import metrics

    y = holdout["churn_label"].astype(int).to_numpy()
    p = model.predict_proba(holdout)
    seniors = holdout["senior_citizen"].fillna(False).astype(bool).to_numpy()
    overall, senior = metrics(y, p), metrics(y[seniors], p[seniors])
    return {"roc_auc": overall["roc_auc"], "pr_auc": overall["pr_auc"], "brier": overall["brier"],
            "senior_roc_auc": senior["roc_auc"], "senior_pr_auc": senior["pr_auc"],
            "mean_probability": float(p.mean()), "observed_rate": float(y.mean())}


def run(rows: int, caps: list[int], holdout_rows: int, folds: int, seed: int = 0) -> dict:
    from retention.modeling.benchmark import load_bundled_features
    from retention.modeling.candidates import quick_grid
    from retention.modeling.train import train

    reference = load_bundled_features()
    frame = population(reference, rows, seed=seed + 1, prefix="TR-")
    holdout = population(reference, holdout_rows, seed=seed + 2, prefix="HO-")
    measured = {"rows": rows, "caps": caps, "holdout_rows": holdout_rows, "folds": folds, "seed": seed, "samples": []}
    trainings = []
    for cap in caps:
        sample, counts, quotas = stratified_sample(frame, cap, seed)
        measured["population"] = {str(k): v for k, v in counts.items()}
        trainings.append((f"cap {cap:,}", sample, {str(k): v for k, v in quotas.items()}))
    for name, training, quotas in [*trainings, ("every row", frame, measured["population"])]:
        print(f"training on {name} ({len(training):,} rows) ...", flush=True)
        started = time.perf_counter()
        cpu = time.process_time()
        result = train(training, quick_grid(), n_splits=folds, seeds=(seed,))
        judged = {"name": name, "training_rows": len(training), "seconds": time.perf_counter() - started,
                  "cpu_seconds": time.process_time() - cpu, "quotas": quotas,
                  "cross_validated": dict(result.headline), **judge(result.model, holdout)}
        print(judged, flush=True)
        measured["samples"].append(judged)
    return measured


def report(m: dict, command: str, seconds: float) -> str:
    *sampled, full = m["samples"]
    name = {"(False, False)": "stayed", "(False, True)": "stayed, senior", "(True, False)": "left",
            "(True, True)": "left, senior"}
    lines = [
        "# Training on a bounded sample against training on every row",
        "",
        f"Generated by `{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f} at the end), "
        f"{seconds / 60:.0f} minutes in all. How the rows are made: `retention/modeling/sample_benchmark.py`.",
        "",
        f"{m['rows']:,} labelled customer-weeks to train on, {m['holdout_rows']:,} more held out (never trained on, "
        f"the same for every model, the population's own mix); seed {m['seed']}; the weekly DAG's quick grid "
        f"(logistic regression + XGBoost), {m['folds']}-fold cross-validation.",
        "",
        "| stratum (label, senior) | population rows | " + " | ".join(f"rows kept, {r['name']} (weight)" for r in sampled)
        + " |",
        "|---|---:|" + "---:|" * len(sampled),
    ]
    for key, population_rows in m["population"].items():
        kept = [r["quotas"][key] for r in sampled]
        lines.append(f"| {name[key]} | {population_rows:,} | "
                     + " | ".join(f"{k:,} ({population_rows / k if k else 0:.2f})" for k in kept) + " |")
    lines += [
        "",
        "| trained on | training rows | training s (wall / CPU) | held-out ROC AUC | PR AUC | seniors ROC / PR AUC "
        "| Brier | mean probability / observed rate | ROC AUC below every row's |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [full, *sampled]:
        lines.append(
            f"| {r['name']} | {r['training_rows']:,} | {r['seconds']:,.0f} / {r['cpu_seconds']:,.0f} "
            f"| {r['roc_auc']:.4f} | {r['pr_auc']:.4f} | {r['senior_roc_auc']:.4f} / {r['senior_pr_auc']:.4f} "
            f"| {r['brier']:.4f} | {r['mean_probability']:.4f} / {r['observed_rate']:.4f} "
            f"| {full['roc_auc'] - r['roc_auc']:+.4f} |"
        )
    lines += [
        "",
        "Goal: a sampled model at most 0.003 ROC AUC below the model trained on every row, on the same held-out "
        "rows. " + "; ".join(
            f"{r['name']}: {full['roc_auc'] - r['roc_auc']:+.4f} ROC AUC, {full['pr_auc'] - r['pr_auc']:+.4f} PR AUC, "
            f"{'met' if full['roc_auc'] - r['roc_auc'] <= 0.003 else 'NOT met'}, "
            f"{full['cpu_seconds'] / r['cpu_seconds']:.1f}x less training CPU" for r in sampled
        ) + ". The sampled models' probabilities are calibrated with the sample's weights, so their mean on the "
        "held-out rows is read against the observed rate there: a sample that over-represents leavers does not "
        "inflate them.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import json
    import logging

    parser = argparse.ArgumentParser(prog="python -m retention.modeling.benchmark --sample")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--caps", default="200000", help="sample caps to compare, comma-separated")
    parser.add_argument("--holdout", type=int, default=200_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "training_sample_benchmark.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    started = time.perf_counter()
    measured = run(args.rows, [int(c) for c in args.caps.split(",")], args.holdout, args.folds)
    print("RESULT " + json.dumps(measured, default=str), flush=True)
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python -m retention.modeling.benchmark --sample", *given])
    text = report(measured, command, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0
