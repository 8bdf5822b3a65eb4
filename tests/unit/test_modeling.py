"""Leakage guards, metrics, the ensemble's arithmetic and the promotion rule, on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retention.modeling.evaluation import fit_calibrator, fit_weights, metrics, reliability
from retention.modeling.features import FEATURES, LeakageError, guard_behaviour, guard_names
from retention.modeling.registry import decide


@pytest.mark.parametrize(
    "column",
    ["Churn", "churn_label", "Churn Score", "Churn Score.1", "churn_score_1", "Satisfaction Score", "CLTV",
     "Total Revenue", "customer_status", "Churn Category", "churn_reason", "ibm_churn_score", "customerID"],
)
def test_leaking_columns_are_refused_by_name(column):
    with pytest.raises(LeakageError, match="leaking column"):
        guard_names([*FEATURES, column])


def test_the_feature_list_itself_is_clean():
    guard_names(FEATURES)


def _frame(rows: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    label = pd.Series(rng.random(rows) < 0.27)
    frame = pd.DataFrame({
        "tenure_months": rng.integers(0, 72, rows) - label * 10,
        "contract": np.where(label & (rng.random(rows) < 0.6), "Month-to-month", rng.choice(["One year", "Two year"], rows)),
    })
    return frame, label


def test_honest_features_pass_the_behaviour_guard():
    frame, label = _frame()
    aucs = guard_behaviour(frame, label)
    assert all(auc < 0.95 for auc in aucs.values())


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("loyalty_score", lambda label, rng: label * 4 + rng.random(len(label))),           # numeric in disguise
        ("retention_team_note", lambda label, rng: np.where(label, "called: leaving", "ok")),  # text in disguise
        ("last_bill_paid", lambda label, rng: ~label),                                       # boolean in disguise
    ],
)
def test_a_feature_that_alone_separates_churners_stops_training_and_is_named(name, make):
    frame, label = _frame()
    frame[name] = make(label.to_numpy(), np.random.default_rng(1))
    with pytest.raises(LeakageError, match=rf"'{name}'.*single-feature ROC AUC above 0.95"):
        guard_behaviour(frame, label)


def test_top_decile_metrics_and_lift():
    y = np.array([1] * 10 + [0] * 90)
    perfect = metrics(y, np.linspace(1, 0, 100))
    assert perfect["roc_auc"] == 1.0 and perfect["top_decile_recall"] == 1.0 and perfect["lift_at_10"] == 10.0


def test_ensemble_weights_are_a_convex_mix_that_favours_the_better_member():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.3).astype(int)
    good = np.clip(y * 0.6 + rng.random(3000) * 0.4, 0, 1)
    noise = rng.random(3000)
    weights = fit_weights(np.stack([good, noise]), y)
    assert weights.sum() == pytest.approx(1.0) and weights[0] > 0.9


def test_platt_calibration_keeps_the_ranking_and_lowers_calibration_error():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.02, 0.98, 5000)
    y = (rng.random(5000) < truth).astype(int)
    overconfident = 1 / (1 + np.exp(-2.5 * np.log(truth / (1 - truth))))  # too sure either way
    calibrated = fit_calibrator(overconfident, y).predict(overconfident)
    assert np.array_equal(np.argsort(calibrated, kind="stable"), np.argsort(overconfident, kind="stable"))
    assert reliability(calibrated, y)[1] < reliability(overconfident, y)[1] / 2


def test_a_promotion_that_would_lower_quality_is_refused_with_its_reason():
    champion = {"model_version": "churn-A", "pr_auc": 0.72, "roc_auc": 0.88}
    promote, reason = decide({"pr_auc": 0.70, "roc_auc": 0.881}, champion, margin=0.005)
    assert not promote
    assert not promote and "kept churn-A" in reason and "pr_auc 0.7000 < champion's 0.7200" in reason
    assert decide({"pr_auc": 0.717, "roc_auc": 0.879}, champion, margin=0.005)[0], "within the margin"
    assert decide({"pr_auc": 0.5, "roc_auc": 0.5}, None, margin=0.005) == (
        True, "no champion yet: the first model becomes champion")
