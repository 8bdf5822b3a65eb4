"""Features built in the warehouse, a model trained and registered, its artifact guarded."""

from __future__ import annotations

import datetime as dt

import pytest

from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
from retention.modeling.candidates import Candidate
from retention.modeling.features import FEATURES, build_features, load_features
from retention.modeling.registry import ArtifactError, current_champion, load_champion, register
from retention.modeling.train import train

pytestmark = pytest.mark.emulator

WEEK = dt.date(2026, 11, 23)


@pytest.fixture
def features(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    ensure_tables(warehouse)
    landed = land_snapshot(warehouse, WEEK, source="bundled")
    validate_snapshot(warehouse, landed)
    publish_customers(warehouse, WEEK, landed.load_id)
    assert build_features(warehouse, WEEK) == 7043
    assert build_features(warehouse, WEEK) == 7043  # rebuilding the week replaces it
    return load_features(warehouse, WEEK)


def test_features_hold_no_leaking_column_and_a_model_is_registered_then_guarded(features, warehouse, tmp_path):
    assert set(FEATURES) <= set(features.columns)
    assert not {"satisfaction_score", "total_revenue", "customer_status", "churn_reason"} & set(features.columns)

    small = [Candidate("logistic_regression", "class_weight", "standard"), Candidate("lightgbm", "none")]
    result = train(features, small, n_splits=3, seeds=(0,))
    assert result.headline["roc_auc"] > 0.85
    first = register(warehouse, result, WEEK, features)
    assert first["status"] == "champion"
    assert register(warehouse, result, WEEK, features)["model_version"] == first["model_version"], "a retry"

    worse = train(features, small[:1], n_splits=3, seeds=(0,))
    worse.calibrated.per_fold = [{**fold, "pr_auc": fold["pr_auc"] - 0.2} for fold in worse.calibrated.per_fold]
    second = register(warehouse, worse, WEEK, features)
    assert second["status"] == "rejected" and f"kept {first['model_version']}" in second["decision"]
    assert "compared by cross-validation on the same week" in second["decision"]
    assert current_champion(warehouse)["model_version"] == first["model_version"]
    statuses = warehouse.rows("SELECT status, COUNT(*) AS n FROM `{{ ml }}.model_registry` GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses} == {"champion": 1, "rejected": 1}

    better = train(features, small, n_splits=3, seeds=(1,))  # another seed: another artifact
    better.calibrated.per_fold = [{**fold, "pr_auc": fold["pr_auc"] + 0.01} for fold in better.calibrated.per_fold]
    third = register(warehouse, better, WEEK, features)
    assert third["status"] == "champion" and third["decision"].startswith("compared by cross-validation")
    statuses = warehouse.rows("SELECT status, COUNT(*) AS n FROM `{{ ml }}.model_registry` GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses} == {"champion": 1, "rejected": 1, "retired": 1}

    champion, model = load_champion(warehouse)
    assert champion["model_version"] == third["model_version"]
    scores = model.predict_proba(features.head(50))
    assert ((scores > 0) & (scores < 1)).all()

    artifact = tmp_path / "artifacts" / "churn" / f"{champion['model_version']}.pkl"
    artifact.write_bytes(artifact.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="altered or truncated"):
        load_champion(warehouse)
    artifact.unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        load_champion(warehouse)


def test_labels_come_only_from_a_later_published_week(warehouse, snapshot_file, monkeypatch):
    import csv

    from retention.config import BUNDLED_TELCO_SNAPSHOT
    from retention.modeling.features import build_labels, load_labelled_history

    ensure_tables(warehouse)
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, customers = rows[0], rows[1:][::100]  # 71 customers, a representative churn rate
    weeks = [dt.date(2026, 11, 2), dt.date(2026, 11, 9)]
    monkeypatch.setenv("RETENTION_QUALITY_MAX_QUARANTINED_SHARE", "0.05")
    leaving = {customers[0][0], customers[1][0]}
    later = [list(c) for c in customers if c[0] not in leaving]
    later[0][header.index("Age")] = "150"  # quarantined next week: still a customer, not a leaver
    for week, present in ((weeks[0], customers), (weeks[1], later)):
        path = snapshot_file(header, present, date=week.isoformat())
        landed = land_snapshot(warehouse, week, source=str(path.parent))
        validate_snapshot(warehouse, landed)
        publish_customers(warehouse, week, landed.load_id)
        build_features(warehouse, week)

    assert build_labels(warehouse, weeks[1], 1) == 0, "the week after is not published: no label yet"
    assert build_labels(warehouse, weeks[0], 1) == 71
    assert build_labels(warehouse, weeks[0], 1) == 71  # rebuilding replaces
    history = load_labelled_history(warehouse, [weeks[0]], 1)
    assert set(history.loc[history["churn_label"], "customer_id"]) == leaving
    assert len(history) == 71
