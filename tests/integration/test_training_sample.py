"""The training sample drawn in the warehouse: stratified, capped, the same per seed, weighted,
and recorded in the registry by the weekly training."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from retention.ingest.customers import ensure_tables, land_snapshot, publish_customers, validate_snapshot
from retention.modeling.features import build_features, build_labels
from retention.modeling.training_sample import STRATA, allocate, draw

pytestmark = pytest.mark.emulator

WEEKS = [dt.date(2026, 11, 2), dt.date(2026, 11, 9)]


@pytest.fixture
def labelled_week(warehouse, snapshot_file, monkeypatch):
    """700 IBM customers in week 1; those IBM says left are gone in week 2: one labelled week."""
    from retention.config import BUNDLED_TELCO_SNAPSHOT

    ensure_tables(warehouse)
    with BUNDLED_TELCO_SNAPSHOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, customers = rows[0], rows[1:][::10]
    churned = header.index("Churn")
    later = [c for c in customers if c[churned] != "Yes"]
    # IBM's leavers all go at once: more attrition, and fewer "Churn = Yes" rows, than a real week.
    monkeypatch.setenv("RETENTION_QUALITY_WEEKLY_ATTRITION_MAX", "0.5")
    monkeypatch.setenv("RETENTION_QUALITY_CHURN_RATE_MIN", "0")
    for week, present in ((WEEKS[0], customers), (WEEKS[1], later)):
        path = snapshot_file(header, present, date=week.isoformat())
        landed = land_snapshot(warehouse, week, source=str(path.parent))
        validate_snapshot(warehouse, landed)
        publish_customers(warehouse, week, landed.load_id)
        build_features(warehouse, week)
    assert build_labels(warehouse, WEEKS[0], 1) == len(customers)
    return {"customers": len(customers), "leavers": len(customers) - len(later)}


def _strata(frame):
    seniors = frame["senior_citizen"].fillna(False).astype(bool)
    counts = frame.groupby([frame["churn_label"].astype(bool), seniors]).size()
    return {(bool(k[0]), bool(k[1])): int(v) for k, v in counts.items()}


def test_the_sample_is_stratified_capped_weighted_and_the_same_per_seed(warehouse, labelled_week, monkeypatch):
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_ROWS", "300")
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_SEED", "1")
    sample = draw(warehouse, [WEEKS[0]], 1)
    assert sum(sample.population.values()) == labelled_week["customers"]
    assert sample.population[True, False] + sample.population[True, True] == labelled_week["leavers"]
    assert all(sample.population[s] > 0 for s in STRATA), sample.population
    assert len(sample.frame) == 300
    assert _strata(sample.frame) == allocate(sample.population, 300) == sample.sampled
    assert sample.frame["customer_id"].is_unique

    # Each row stands for its stratum's population / kept rows; together they are the population.
    for (left, senior), kept in sample.sampled.items():
        rows = sample.frame[(sample.frame["churn_label"].astype(bool) == left)
                            & (sample.frame["senior_citizen"].fillna(False).astype(bool) == senior)]
        assert rows["sample_weight"].to_numpy() == pytest.approx(sample.population[left, senior] / kept)
    assert sample.frame["sample_weight"].sum() == pytest.approx(labelled_week["customers"])

    again = draw(warehouse, [WEEKS[0]], 1)
    assert again.frame.equals(sample.frame), "the same seed draws the same rows"
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_SEED", "2")
    other = draw(warehouse, [WEEKS[0]], 1)
    assert _strata(other.frame) == _strata(sample.frame)
    assert set(other.frame["customer_id"]) != set(sample.frame["customer_id"]), "another seed, other rows"

    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_ROWS", "5000")
    everything = draw(warehouse, [WEEKS[0]], 1)
    assert len(everything.frame) == labelled_week["customers"]
    assert set(everything.frame["sample_weight"]) == {1.0}


def test_the_weekly_training_trains_on_the_sample_and_the_registry_records_it(
    warehouse, labelled_week, monkeypatch, tmp_path
):
    from retention.modeling.registry import current_champion
    from retention.modeling.weekly import promote_or_keep, train_challenger

    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    for name, value in {
        "RETENTION_TRAINING_SAMPLE_ROWS": "300", "RETENTION_TRAINING_SAMPLE_SEED": "3",
        "RETENTION_LABEL_HORIZON_WEEKS": "1", "RETENTION_TRAINING_WEEKS": "1",
        "RETENTION_MIN_TRAINING_LEAVERS": "50", "RETENTION_TRAINING_FOLDS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    trained = train_challenger(warehouse, WEEKS[1])
    assert trained["training"]["source"] == "weekly" and trained["training"]["rows"] == 300
    decided = promote_or_keep(warehouse, trained)
    assert decided["status"] == "champion"

    champion = current_champion(warehouse)
    assert champion["training_rows"] == 300
    recorded = json.loads(champion["parameters"])["training"]["sample"]
    assert recorded["cap"] == 300 and recorded["seed"] == 3
    assert recorded["population_rows"] == labelled_week["customers"] and recorded["sampled_rows"] == 300
    assert recorded["strata"]["left_senior"]["sampled_rows"] > 0
    assert sum(s["population_rows"] for s in recorded["strata"].values()) == labelled_week["customers"]

    # A retry trains on the same sample: the registry's decision stands.
    assert train_challenger(warehouse, WEEKS[1])["skipped"].endswith("trained on exactly these rows and settings")
