"""Model artifacts, the registry table and the champion/challenger decision.

Artifacts go to `RETENTION_ARTIFACT_STORE`: a local folder (default `.local/artifacts`) or a
`gs://bucket/prefix` (through Airflow's object storage and the Google connection). Each
training run writes one row to `ml.model_registry`. A new model becomes champion only if its
cross-validated PR AUC and ROC AUC are not worse than the champion's by more than
`RETENTION_PROMOTION_MARGIN` (default 0.005); otherwise it is recorded as rejected, with the
reason. Loading a champion checks the artifact's SHA-256 against the registry: a missing or
altered artifact raises, and scoring never falls back to anything else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from retention.config import PROJECT_ROOT

if TYPE_CHECKING:
    from retention.modeling.train import ChurnModel, TrainingResult
    from retention.warehouse import Warehouse


class ArtifactError(RuntimeError):
    """A model artifact is missing or is not the one the registry recorded. Scoring stops."""


def artifact_store() -> str:
    return os.environ.get("RETENTION_ARTIFACT_STORE", str(PROJECT_ROOT / ".local" / "artifacts"))


def _path(uri: str):
    if uri.startswith("gs://"):
        from airflow.sdk import ObjectStoragePath

        from retention.config import Settings

        return ObjectStoragePath(uri, conn_id=Settings.from_env().gcp_conn_id)
    return Path(uri)


def save_artifact(model: ChurnModel, version: str) -> tuple[str, str]:
    buffer = io.BytesIO()
    pickle.dump(model, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    data = buffer.getvalue()
    uri = f"{artifact_store().rstrip('/')}/churn/{version}.pkl"
    path = _path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return uri, hashlib.sha256(data).hexdigest()


def load_artifact(uri: str, sha256: str) -> ChurnModel:
    path = _path(uri)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"model artifact {uri} is missing: restore it or retrain; scoring will not guess") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactError(
            f"model artifact {uri} has SHA-256 {actual[:12]}… but the registry recorded {sha256[:12]}…: "
            "it was altered or truncated; restore it or retrain"
        )
    return pickle.loads(data)  # noqa: S301 - only artifacts whose hash the registry vouches for


def ensure_registry(warehouse: Warehouse) -> None:
    warehouse.run_file("ml/model_registry/create.sql")


def current_champion(warehouse: Warehouse) -> dict | None:
    rows = warehouse.rows(
        "SELECT * FROM `{{ ml }}.model_registry` WHERE status = 'champion' ORDER BY trained_at DESC LIMIT 1"
    )
    return rows[0] if rows else None


def decide(challenger: dict[str, float], champion: dict | None, margin: float) -> tuple[bool, str]:
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


def register(warehouse: Warehouse, result: TrainingResult, data_snapshot: dt.date) -> dict:
    """Save the artifact, decide champion or not, and record the run (one MERGE per row)."""
    ensure_registry(warehouse)
    trained_at = dt.datetime.now(dt.UTC)
    draft_version = f"churn-{trained_at:%Y%m%dT%H%M%S}"
    uri, sha256 = save_artifact(result.model, draft_version)
    version = f"{draft_version}-{sha256[:8]}"
    margin = float(os.environ.get("RETENTION_PROMOTION_MARGIN", "0.005"))
    champion = current_champion(warehouse)
    promote, reason = decide(result.headline, champion, margin)
    row = {
        "model_version": version,
        "trained_at": trained_at,
        "data_snapshot": data_snapshot,
        "training_rows": result.rows,
        "features": json.dumps(result.model.features),
        "parameters": json.dumps({"members": result.weights, "calibration": "platt"}),
        "metrics": json.dumps({e.name: e.summary() for e in [result.calibrated, *result.evaluations]}),
        "roc_auc": result.headline["roc_auc"],
        "pr_auc": result.headline["pr_auc"],
        "artifact_uri": uri,
        "artifact_sha256": sha256,
        "status": "champion" if promote else "rejected",
        "decision": reason,
    }
    registry = warehouse.table_id("ml", "model_registry")
    # New row first: a crash before the old champion is retired leaves two champions, and the
    # newest one is used; the other order could leave none.
    warehouse.replace_rows(registry, [row], {"model_version": version})
    if promote and champion:
        retired = {**champion, "status": "retired", "decision": f"{champion['decision']} | retired by {version}"}
        warehouse.replace_rows(registry, [retired], {"model_version": champion["model_version"]})
    return row


def load_champion(warehouse: Warehouse) -> tuple[dict, ChurnModel]:
    champion = current_champion(warehouse)
    if champion is None:
        raise ArtifactError("no champion in ml.model_registry: train a model first (churn training)")
    return champion, load_artifact(champion["artifact_uri"], champion["artifact_sha256"])
