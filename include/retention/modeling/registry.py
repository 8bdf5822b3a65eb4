"""Model artifacts, the registry table and the champion/challenger decision.

Artifacts go to `RETENTION_ARTIFACT_STORE`: a local folder (default `.local/artifacts`) or a
`gs://bucket/prefix` (through Airflow's object storage and the Google connection), named by
their SHA-256. Each training run writes one row to `ml.model_registry`; the version is the
data week plus the artifact hash, so a retried run that trains the same model replaces its
own row. Every artifact is signed and read only from inside the store (`artifact_trust.py`).
Champion and challenger are compared on rows neither was trained on (see
`compare_on_same_rows`). The challenger is promoted only if its PR AUC and ROC AUC are not
worse by more than `RETENTION_PROMOTION_MARGIN` (default 0.005); otherwise it is recorded as
rejected, with the reason. One statement retires every other champion. Loading checks the
artifact's location (resolved: no `..`, no links), SHA-256, signature (before unpickling) and
library versions: anything off raises, and scoring never falls back to anything else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from retention.modeling.artifact_trust import ArtifactError, artifact_store, checked_location, sign, verified_payload

if TYPE_CHECKING:
    import pandas as pd

    from retention.modeling.train import ChurnModel, TrainingResult
    from retention.warehouse import Warehouse


__all__ = ["ArtifactError", "artifact_store"]  # re-exported: callers import them from here


def _path(uri: str):
    if uri.startswith("gs://"):
        from airflow.sdk import ObjectStoragePath

        from retention.config import Settings

        return ObjectStoragePath(uri, conn_id=Settings.from_env().gcp_conn_id)
    return Path(uri)


LIBRARIES = ("scikit-learn", "imbalanced-learn", "xgboost-cpu", "lightgbm", "numpy")


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in LIBRARIES}


def save_artifact(model: ChurnModel, data_snapshot: dt.date) -> tuple[str, str, str]:
    """(version, uri, sha256). The artifact is pickled with the library versions it needs, and
    signed; the SHA-256 is of the signed file."""
    data = sign(pickle.dumps({"libraries": library_versions(), "model": model}, protocol=pickle.HIGHEST_PROTOCOL))
    sha256 = hashlib.sha256(data).hexdigest()
    version = f"churn-{data_snapshot:%Y%m%d}-{sha256[:12]}"
    uri = f"{artifact_store().rstrip('/')}/churn/{version}.pkl"
    write_bytes(uri, data)
    return version, uri, sha256


def write_bytes(uri: str, data: bytes) -> None:
    path = _path(checked_location(uri))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_verified(uri: str, sha256: str) -> bytes:
    """The payload of the signed file at `uri`, inside the artifact store, with the SHA-256 that
    was recorded and this platform's signature: only then may it be unpickled."""
    try:
        data = _path(checked_location(uri)).read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"model artifact {uri} is missing: restore it or retrain; scoring will not guess") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactError(
            f"model artifact {uri} has SHA-256 {actual[:12]}… but the registry recorded {sha256[:12]}…: "
            "it was altered or truncated; restore it or retrain"
        )
    return verified_payload(uri, data)


def load_artifact(uri: str, sha256: str) -> ChurnModel:
    saved = pickle.loads(read_verified(uri, sha256))  # noqa: S301 - inside the store, hash and signature checked
    if saved["libraries"] != library_versions():
        raise ArtifactError(
            f"model artifact {uri} was saved with {saved['libraries']} but this worker has {library_versions()}: "
            "retrain with the installed versions, or install the ones it was saved with"
        )
    return saved["model"]


def ensure_registry(warehouse: Warehouse) -> None:
    warehouse.run_file("ml/model_registry/create.sql")


def current_champion(warehouse: Warehouse) -> dict | None:
    rows = warehouse.rows(
        "SELECT * FROM `{{ ml }}.model_registry` WHERE status = 'champion' ORDER BY trained_at DESC LIMIT 1"
    )
    return rows[0] if rows else None


def decide(challenger: dict[str, float], champion: dict[str, float] | None, margin: float) -> tuple[bool, str]:
    """`champion`: its version and its metrics, measured like the challenger's."""
    if champion is None:
        return True, "no champion yet: the first model becomes champion"
    worse = [
        f"{metric} {challenger[metric]:.4f} < champion's {champion[metric]:.4f} - margin {margin}"
        for metric in ("pr_auc", "roc_auc")
        if challenger[metric] < champion[metric] - margin
    ]
    if worse:
        return False, f"kept {champion['model_version']}: " + "; ".join(worse)
    return True, (
        f"replaces {champion['model_version']}: PR AUC {challenger['pr_auc']:.4f} vs {champion['pr_auc']:.4f}, "
        f"ROC AUC {challenger['roc_auc']:.4f} vs {champion['roc_auc']:.4f} (margin {margin})"
    )


def compare_on_same_rows(
    warehouse: Warehouse, result: TrainingResult, frame: pd.DataFrame, data_snapshot: dt.date
) -> tuple[dict[str, float], dict | None, str]:
    """(challenger metrics, champion metrics, note), both measured on rows neither trained on:
    - weeks newer than the champion's data: the champion's predictions there against the
      challenger's out-of-fold predictions for the same rows;
    - a retrain on the champion's own week: both models' cross-validated metrics;
    - otherwise (older data): the recorded metrics, with a note that the rows differ."""
    from retention.modeling.evaluation import metrics
    from retention.modeling.features import LABEL

    challenger = dict(result.headline)
    champion = current_champion(warehouse)
    if champion is None:
        return challenger, None, ""
    labelled = frame[frame[LABEL].notna()].reset_index(drop=True)
    newer = (labelled["snapshot_date"] > champion["data_snapshot"]).to_numpy()
    recorded = {"model_version": champion["model_version"], "pr_auc": champion["pr_auc"], "roc_auc": champion["roc_auc"]}
    if newer.any():
        try:
            model = load_artifact(champion["artifact_uri"], champion["artifact_sha256"])
        except ArtifactError as error:
            return challenger, None, f"champion {champion['model_version']} cannot be evaluated ({error}); "
        y = labelled.loc[newer, LABEL].astype(int).to_numpy()
        w = labelled.loc[newer, "sample_weight"].astype(float).to_numpy() if "sample_weight" in labelled else None
        theirs = metrics(y, model.predict_proba(labelled.loc[newer]), w)
        ours = metrics(y, result.calibrated.oof[0][newer], w)
        note = f"compared on {int(newer.sum())} rows newer than the champion's data; "
        return ours, {"model_version": champion["model_version"], **theirs}, note
    if champion["data_snapshot"] == data_snapshot:
        return challenger, recorded, "compared by cross-validation on the same week; "
    return challenger, recorded, "the champion was trained on newer data: compared on recorded metrics; "


def register(
    warehouse: Warehouse, result: TrainingResult, data_snapshot: dt.date, frame: pd.DataFrame,
    extra_parameters: dict | None = None,
) -> dict:
    """Save the artifact, compare with the champion on `frame` (the rows the challenger was
    evaluated on), record the run, and make the winner the only champion."""
    ensure_registry(warehouse)
    version, uri, sha256 = save_artifact(result.model, data_snapshot)
    margin = float(os.environ.get("RETENTION_PROMOTION_MARGIN", "0.005"))
    challenger, champion, note = compare_on_same_rows(warehouse, result, frame, data_snapshot)
    if champion and champion["model_version"] == version:
        champion, note = None, "a retry of the run that made this champion; "
    promote, reason = decide(challenger, champion, margin)
    row = {
        "model_version": version,
        "trained_at": dt.datetime.now(dt.UTC),
        "data_snapshot": data_snapshot,
        "training_rows": result.rows,
        "features": json.dumps(result.model.features),
        "parameters": json.dumps({
            "members": result.weights, "calibration": "platt", "libraries": library_versions(),
            **(extra_parameters or {}),
        }),
        "metrics": json.dumps({e.name: e.summary() for e in [result.calibrated, *result.evaluations]}),
        "roc_auc": result.headline["roc_auc"],
        "pr_auc": result.headline["pr_auc"],
        "artifact_uri": uri,
        "artifact_sha256": sha256,
        "status": "champion" if promote else "rejected",
        "decision": note + reason,
    }
    warehouse.replace_rows(warehouse.table_id("ml", "model_registry"), [row], {"model_version": version})
    if promote:
        warehouse.run(
            "UPDATE `{{ ml }}.model_registry` SET status = 'retired', "
            "decision = CONCAT(decision, ' | retired by ', @version) "
            "WHERE status = 'champion' AND model_version != @version",
            {"version": version},
            source="retire former champions",
        )
    return row


def load_champion(warehouse: Warehouse) -> tuple[dict, ChurnModel]:
    champion = current_champion(warehouse)
    if champion is None:
        raise ArtifactError("no champion in ml.model_registry: train a model first (churn training)")
    model = load_artifact(champion["artifact_uri"], champion["artifact_sha256"])
    if getattr(model, "explainer", None) is None or getattr(model, "segmenter", None) is None:
        raise ArtifactError(
            f"champion {champion['model_version']} was saved without reasons and segments (an older artifact): "
            "retrain (clear train_challenger) so scoring can give them"
        )
    return champion, model
