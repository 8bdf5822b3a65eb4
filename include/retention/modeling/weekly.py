"""The weekly training cycle of churn_weekly: which rows to learn from, train, promote or keep.

What the model learns from:
- **Weekly labels**, as soon as the history allows: the latest `RETENTION_TRAINING_WEEKS`
  (default 4) weeks whose outcome is known, labelled "left within
  `RETENTION_LABEL_HORIZON_WEEKS` (default 4) weeks" from the snapshot that many weeks later
  (`ml.churn_labels`). Used once they hold at least `RETENTION_MIN_TRAINING_LEAVERS` (default
  200) customers who left. At most `RETENTION_TRAINING_SAMPLE_ROWS` (default 200,000) of
  those rows are read: a stratified, seeded sample drawn in the warehouse, whatever N is
  (retention.modeling.training_sample; the registry records it in `parameters.training.sample`).
- **The labelled IBM export** until then (cold start): the bundled file, landed and validated
  like any snapshot, published to `core.reference_customers` and its features to
  `ml.churn_features` under `REFERENCE_DATE`. Its label is IBM's "left in the quarter".

The registry records which (`parameters.training`), so a probability is read against the
label it was trained on. Training on exactly the rows, candidates and library versions of a
model already in the registry would rebuild that model: it is skipped, and the registry's
decision stands. Each step writes what the next needs to the artifact store, so promotion
can be retried without training again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retention.config import BUNDLED_TELCO_SNAPSHOT
from retention.ingest.customers import CUSTOMERS
from retention.modeling.features import FEATURES, LABEL, build_features, build_labels

if TYPE_CHECKING:
    import pandas as pd

    from retention.warehouse import Warehouse

log = logging.getLogger(__name__)

REFERENCE_DATE = dt.date(2025, 12, 29)
"""Where the labelled IBM export sits: the Monday before the weekly history starts."""
REFERENCE = dataclasses.replace(CUSTOMERS, core_table="reference_customers")


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    source: str
    """`weekly` or `ibm_export`."""
    label: str
    weeks: list[dt.date]
    data_snapshot: dt.date
    sample: dict | None = None
    """The sample's cap, seed and rows per stratum (training_sample.Sample.describe), if sampled."""

    def describe(self) -> dict:
        described = {
            "source": self.source, "label": self.label, "weeks": [str(w) for w in self.weeks],
            "rows": len(self.frame), "leavers": int(self.frame[LABEL].sum()),
        }
        return {**described, "sample": self.sample} if self.sample is not None else described


def prepare_reference(warehouse: Warehouse) -> dict:
    """Land, validate and publish the bundled IBM export as the cold-start training set, once."""
    from retention.ingest.landing import land_file, publish_validated, validate_landed

    ready = warehouse.count_rows(
        warehouse.table_id("ml", "churn_features"), "snapshot_date = @d AND churn_label IS NOT NULL",
        {"d": REFERENCE_DATE},
    ) if warehouse.table_exists(warehouse.table_id("ml", "churn_features")) else 0
    if ready:
        return {"rows": ready, "published": "earlier"}
    warehouse.run_file("core/customers/create.sql", identifiers={"core_table": REFERENCE.core_table})
    landed = land_file(warehouse, REFERENCE, str(BUNDLED_TELCO_SNAPSHOT), REFERENCE_DATE)
    validate_landed(warehouse, REFERENCE, landed, None)
    publish_validated(warehouse, REFERENCE, REFERENCE_DATE, landed.load_id)
    rows = build_features(warehouse, REFERENCE_DATE, REFERENCE.core_table)
    return {"rows": rows, "published": "now", "load_id": landed.load_id}


def training_set(warehouse: Warehouse, week: dt.date) -> TrainingSet:
    horizon = _setting("RETENTION_LABEL_HORIZON_WEEKS", 4)
    latest_known = week - dt.timedelta(weeks=horizon)
    published = [
        row["snapshot_date"] for row in warehouse.rows(
            "SELECT DISTINCT snapshot_date FROM `{{ core }}.customers` WHERE snapshot_date <= @latest "
            "ORDER BY snapshot_date DESC",
            {"latest": latest_known}, source="weeks whose outcome is known",
        )
    ][: _setting("RETENTION_TRAINING_WEEKS", 4)]
    labelled = []
    for candidate in published:
        if not warehouse.count_rows(warehouse.table_id("ml", "churn_features"), "snapshot_date = @d", {"d": candidate}):
            build_features(warehouse, candidate)
        if build_labels(warehouse, candidate, horizon):
            labelled.append(candidate)
    if labelled:
        from retention.modeling.training_sample import draw

        sample = draw(warehouse, sorted(labelled), horizon)
        leavers = sample.population[True, False] + sample.population[True, True]
        if leavers >= _setting("RETENTION_MIN_TRAINING_LEAVERS", 200):
            return TrainingSet(sample.frame, "weekly", f"left within {horizon} weeks", sorted(labelled),
                               max(labelled), sample.describe())
        log.info("%s leavers in weeks %s: too few, training on the IBM export", leavers, labelled)
    prepare_reference(warehouse)
    frame = warehouse.dataframe(
        "SELECT * FROM `{{ ml }}.churn_features` WHERE snapshot_date = @d AND churn_label IS NOT NULL "
        "ORDER BY customer_id",
        {"d": REFERENCE_DATE}, source="ml.churn_features (IBM export)",
    )
    return TrainingSet(frame, "ibm_export", "left in the quarter of the IBM export", [REFERENCE_DATE], REFERENCE_DATE)


def _grid():
    from retention.modeling.candidates import full_grid, quick_grid

    name = os.environ.get("RETENTION_TRAINING_GRID", "quick")
    if name not in ("quick", "full"):
        raise ValueError(f"RETENTION_TRAINING_GRID={name!r}: expected quick or full")
    return full_grid() if name == "full" else quick_grid()


def _seeds() -> tuple[int, ...]:
    return tuple(int(s) for s in os.environ.get("RETENTION_TRAINING_SEEDS", "0").split(","))


def fingerprint(training: TrainingSet, grid, folds: int, seeds: tuple[int, ...]) -> str:
    import pandas as pd

    from retention.modeling.registry import library_versions

    columns = ["snapshot_date", "customer_id", *FEATURES, LABEL]
    columns += ["sample_weight"] if "sample_weight" in training.frame else []
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(training.frame[columns], index=False).to_numpy().tobytes())
    digest.update(json.dumps({
        "grid": [c.name for c in grid], "folds": folds, "seeds": seeds, "libraries": library_versions(),
        "segments": os.environ.get("RETENTION_SEGMENTS", "5"), "label": training.label,
    }, sort_keys=True).encode())
    return digest.hexdigest()


def _registered_with(warehouse: Warehouse, fingerprint_: str) -> dict | None:
    from retention.modeling.registry import ensure_registry

    ensure_registry(warehouse)
    for row in warehouse.rows(
        "SELECT model_version, status, parameters FROM `{{ ml }}.model_registry` ORDER BY trained_at DESC"
    ):
        if json.loads(row["parameters"]).get("training_fingerprint") == fingerprint_:
            return row
    return None


def train_challenger(warehouse: Warehouse, week: dt.date) -> dict:
    """Train and evaluate on the training set; save the result for promote_or_keep."""
    from retention.modeling.artifact_trust import sign
    from retention.modeling.registry import artifact_store, write_bytes
    from retention.modeling.train import train

    from retention.modeling.registry import current_champion, ensure_registry

    ensure_registry(warehouse)
    latest = warehouse.latest_partition(warehouse.table_id("core", "customers"))  # metadata, not a scan
    if latest is not None and week < latest and current_champion(warehouse) is not None:
        # A backfill: a model trained on older data must not replace one trained on newer data.
        return {"skipped": f"{week} is older than the latest published week {latest} (a backfill): "
                           "the champion is not retrained on older data and scores the week", "training": None}
    training = training_set(warehouse, week)
    grid, folds, seeds = _grid(), _setting("RETENTION_TRAINING_FOLDS", 5), _seeds()
    key = fingerprint(training, grid, folds, seeds)
    known = _registered_with(warehouse, key)
    if known:
        return {
            "skipped": f"{known['model_version']} ({known['status']}) was trained on exactly these rows and settings",
            "training": training.describe(),
        }
    result = train(training.frame, grid, n_splits=folds, seeds=seeds)
    data = sign(pickle.dumps({"result": result, "frame": training.frame, "training": training.describe(),
                              "data_snapshot": training.data_snapshot, "fingerprint": key}))
    uri = f"{artifact_store().rstrip('/')}/churn/runs/{week:%Y%m%d}-{key[:16]}.pkl"
    write_bytes(uri, data)
    log.info("trained on %s: ROC AUC %.4f, PR AUC %.4f", training.describe(), *result.headline.values())
    return {
        "run_uri": uri, "sha256": hashlib.sha256(data).hexdigest(), "training": training.describe(),
        "roc_auc": result.headline["roc_auc"], "pr_auc": result.headline["pr_auc"],
    }


def promote_or_keep(warehouse: Warehouse, trained: dict) -> dict:
    """Register the challenger and make it champion if it is not worse (registry.register)."""
    from retention.modeling.registry import current_champion, read_verified, register

    if trained.get("skipped"):
        champion = current_champion(warehouse)
        if champion is None:
            raise RuntimeError("no champion in ml.model_registry and training was skipped: clear train_challenger")
        return {"status": "kept", "model_version": champion["model_version"], "decision": trained["skipped"]}
    saved = pickle.loads(read_verified(trained["run_uri"], trained["sha256"]))  # noqa: S301 - hash, signature checked
    row = register(
        warehouse, saved["result"], saved["data_snapshot"], saved["frame"],
        extra_parameters={"training": saved["training"], "training_fingerprint": saved["fingerprint"]},
    )
    return {"status": row["status"], "model_version": row["model_version"], "decision": row["decision"]}
