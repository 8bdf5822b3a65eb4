"""The stages of one weekly cycle, each what the DAG task (or tasks) of that step calls.

Run inside the benchmark's worker process, one stage per process, as an Airflow task runs on
a worker: nothing here re-implements a stage, it calls the functions the DAG files call, in
the order `telco_ingest` → `churn_weekly` → `senior_outreach` run them for one week.
Each returns a small JSON-able summary: how many rows it handled and what it decided.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from retention.warehouse import Warehouse

# Stage name → what it measures (the DAG tasks it stands for), in cycle order.
STAGES = {
    "ingest": "telco_ingest land_snapshot + land_contacts: the week's files into raw",
    "validate": "telco_ingest validate_snapshot + validate_contacts: Great Expectations, in chunks",
    "publish_core": "telco_ingest publish_customers + publish_contacts: core.customers, core.contacts",
    "features": "churn_weekly build_features: ml.churn_features for the week",
    "labels": "ml.churn_labels of the training weeks (train_challenger's first step, run apart to time it)",
    "train": "churn_weekly train_challenger + promote_or_keep_champion",
    "score": "churn_weekly plan_scoring_shards + every score_customers shard (one worker process each)",
    "publish_scores": "churn_weekly publish_scores: checks, ranks, bands, one MERGE into ml.churn_scores",
    "marts": "churn_weekly refresh_marts, then every mart read once (COUNT(*)), as Looker Studio would",
    "outreach": "senior_outreach decide_audience: newly at-risk seniors, rules, holdout (nothing is sent)",
}


def _state(folder: Path, week: dt.date, name: str) -> Path:
    return folder / f"{name}-{week}.json"


def _save(folder: Path, week: dt.date, name: str, value) -> None:
    _state(folder, week, name).write_text(json.dumps(value, default=str))


def _load(folder: Path, week: dt.date, name: str):
    return json.loads(_state(folder, week, name).read_text())


def ingest(warehouse: Warehouse, week: dt.date, folder: Path, *, contacts: bool = True) -> dict:
    from retention.ingest.contacts import land_contacts
    from retention.ingest.customers import ensure_tables, land_snapshot

    ensure_tables(warehouse)  # telco_ingest's prepare_warehouse
    landed = land_snapshot(warehouse, week)
    _save(folder, week, "landed", landed.as_dict())
    summary = {"rows": landed.rows}
    if contacts:
        landed_contacts = land_contacts(warehouse, week)
        _save(folder, week, "landed-contacts", landed_contacts.as_dict())
        summary["contacts"] = landed_contacts.rows
    return summary


def validate(warehouse: Warehouse, week: dt.date, folder: Path, *, contacts: bool = True) -> dict:
    from retention.ingest.contacts import validate_contacts
    from retention.ingest.customers import validate_snapshot
    from retention.ingest.landing import LandedFile

    landed = LandedFile.from_dict(_load(folder, week, "landed"))
    result = validate_snapshot(warehouse, landed, f"scale-benchmark-{week}")
    summary = {"rows": landed.rows, "decision": result["decision"], "quarantined": result["rows_quarantined"]}
    if contacts:
        landed_contacts = LandedFile.from_dict(_load(folder, week, "landed-contacts"))
        checked = validate_contacts(warehouse, landed_contacts, f"scale-benchmark-{week}")
        summary["contacts_decision"] = checked["decision"]
    return summary


def publish_core(warehouse: Warehouse, week: dt.date, folder: Path, *, contacts: bool = True) -> dict:
    from retention.ingest.contacts import publish_contacts
    from retention.ingest.customers import publish_customers

    summary = {"rows": publish_customers(warehouse, week, _load(folder, week, "landed")["load_id"])["rows"]}
    if contacts:
        publish_contacts(warehouse, week, _load(folder, week, "landed-contacts")["load_id"])
    return summary


def features(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.modeling.features import build_features

    rows = build_features(warehouse, week)
    if rows == 0:
        raise RuntimeError(f"core.customers has no rows for {week}: the ingest stages did not publish it")
    return {"rows": rows}


def labels(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    """The labels train_challenger builds for its training weeks (modeling/weekly.training_set)."""
    import os

    from retention.modeling.features import build_labels

    horizon = int(os.environ.get("RETENTION_LABEL_HORIZON_WEEKS", "4"))
    weeks = int(os.environ.get("RETENTION_TRAINING_WEEKS", "4"))
    latest = week - dt.timedelta(weeks=horizon)
    labelled = sum(build_labels(warehouse, latest - dt.timedelta(weeks=i), horizon) for i in range(weeks))
    return {"rows": labelled}


def train(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.modeling.weekly import promote_or_keep, train_challenger

    trained = train_challenger(warehouse, week)
    promoted = promote_or_keep(warehouse, trained)
    described = trained.get("training") or {}
    return {"rows": described.get("rows", 0), "source": described.get("source"), "status": promoted["status"],
            "roc_auc": trained.get("roc_auc"), "skipped": trained.get("skipped"),
            "population": (described.get("sample") or {}).get("population_rows")}


def plan(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.scoring.shards import plan_shards

    assignments = plan_shards(warehouse, [week])
    _save(folder, week, "plan", assignments)
    return {"rows": assignments[0]["week_rows"], "shards": len(assignments)}


def score_one_shard(warehouse: Warehouse, week: dt.date, folder: Path, shard: int) -> dict:
    from retention.scoring.shards import score_shard

    assignment = _load(folder, week, "plan")[shard]
    scored = score_shard(warehouse, week, assignment["shard"], assignment["shards"],
                         model_version=assignment["model_version"])
    _save(folder, week, f"scored-{shard}", scored)
    return {"rows": scored["rows"], "read_path": scored["read_path"]}


def publish_scores(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.scoring.score import publish_scores as publish

    shards = len(_load(folder, week, "plan"))
    scored = [_load(folder, week, f"scored-{shard}") for shard in range(shards)]
    published = publish(warehouse, week, shards=scored)
    return {"rows": published["customers"], "at_risk": published["at_risk"], "newly_at_risk": published["newly_at_risk"]}


def marts(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.marts.build import MARTS, refresh_marts

    refresh_marts(warehouse)
    counts = {name: warehouse.count_rows(warehouse.table_id("marts", name)) for name in MARTS}
    return {"rows": sum(counts.values()), "marts": counts}


def outreach(warehouse: Warehouse, week: dt.date, folder: Path) -> dict:
    from retention.outreach.audience import AudienceSettings
    from retention.outreach.campaign import QueueSettings, decide_audience, ensure_tables
    from retention.outreach.transport_setup import transport_and_clock

    ensure_tables(warehouse)
    clock = transport_and_clock()[1]
    summary = decide_audience(warehouse, week, AudienceSettings.from_env(), now=clock(),
                              queue_settings=QueueSettings.from_env())
    return {"rows": summary["newly_at_risk_seniors"], "decided_now": summary["decided_now"]}


RUNNERS: dict[str, Callable[..., dict]] = {
    "ingest": ingest, "validate": validate, "publish_core": publish_core, "features": features,
    "labels": labels, "train": train, "plan": plan, "score_shard": score_one_shard,
    "publish_scores": publish_scores, "marts": marts, "outreach": outreach,
}


def run(step: str, week: dt.date, folder: Path, shard: int | None = None, contacts: bool = True) -> dict:
    """One step in this process (the worker)."""
    warehouse = Warehouse.connect()
    if step == "score_shard":
        return score_one_shard(warehouse, week, folder, shard)
    if step in ("ingest", "validate", "publish_core"):
        return RUNNERS[step](warehouse, week, folder, contacts=contacts)
    return RUNNERS[step](warehouse, week, folder)
