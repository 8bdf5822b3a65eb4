"""The training sample's rules: how the cap is shared over (left, senior) strata, its settings,
and that weighted metrics and calibration speak for the population, not the sample."""

from __future__ import annotations

import numpy as np
import pytest

from retention.modeling.evaluation import fit_calibrator, metrics
from retention.modeling.training_sample import STRATA, SampleSettingError, allocate, settings

# (left, senior): 1M customers x 4 weeks, about 2.4% leaving, 16% seniors, seniors leave more.
TELCO = {(False, False): 3_300_000, (False, True): 600_000, (True, False): 70_000, (True, True): 30_000}


def test_everything_is_kept_when_the_weeks_fit_under_the_cap():
    small = {(False, False): 500, (False, True): 90, (True, False): 30, (True, True): 10}
    assert allocate(small, 1_000) == small
    assert allocate(small, 630) == small


def test_the_cap_is_never_exceeded_and_leavers_get_half_of_it():
    quotas = allocate(TELCO, 200_000)
    assert sum(quotas.values()) == 200_000
    assert quotas[True, False] + quotas[True, True] == 100_000  # all 100k leavers: exactly half
    assert quotas[False, False] + quotas[False, True] == 100_000


def test_within_each_label_seniors_keep_their_population_share():
    quotas = allocate(TELCO, 50_000)
    for label in (True, False):
        population_share = TELCO[label, True] / (TELCO[label, True] + TELCO[label, False])
        sample_share = quotas[label, True] / (quotas[label, True] + quotas[label, False])
        assert sample_share == pytest.approx(population_share, abs=1e-4)
        assert quotas[label, True] >= int(population_share * (quotas[label, True] + quotas[label, False]))


def test_leavers_fewer_than_half_the_cap_are_all_kept_and_stayers_fill_the_rest():
    quotas = allocate(TELCO, 300_000)
    assert (quotas[True, False], quotas[True, True]) == (70_000, 30_000)
    assert quotas[False, False] + quotas[False, True] == 200_000


def test_an_empty_stratum_gives_its_share_to_the_others():
    no_seniors = {(False, False): 10_000, (True, False): 2_000}
    quotas = allocate(no_seniors, 1_000)
    assert quotas == {(False, False): 500, (False, True): 0, (True, False): 500, (True, True): 0}


def test_leavers_are_never_under_represented_against_the_population():
    mostly_leavers = {(False, False): 1_000, (False, True): 0, (True, False): 9_000, (True, True): 0}
    quotas = allocate(mostly_leavers, 1_000)
    assert quotas[True, False] == 900 and quotas[False, False] == 100
    assert set(quotas) == set(STRATA)


def test_settings_are_read_and_bad_values_say_what_to_do(monkeypatch):
    monkeypatch.delenv("RETENTION_TRAINING_SAMPLE_ROWS", raising=False)
    monkeypatch.delenv("RETENTION_TRAINING_SAMPLE_SEED", raising=False)
    assert settings() == (200_000, 0)
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_ROWS", "5000")
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_SEED", "7")
    assert settings() == (5000, 7)
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_ROWS", "lots")
    with pytest.raises(SampleSettingError, match="RETENTION_TRAINING_SAMPLE_ROWS='lots' is not a whole number"):
        settings()
    monkeypatch.setenv("RETENTION_TRAINING_SAMPLE_ROWS", "10")
    with pytest.raises(SampleSettingError, match="use at least 100"):
        settings()


def _population(rows: int = 200_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    score = rng.normal(size=rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(score * 1.5 - 3.5)))).astype(int)  # about 5% leave
    return score, y


def _case_control(y: np.ndarray, seed: int = 1):
    """All leavers and as many stayers, weighted like sql/ml/training_sample/query.sql."""
    rng = np.random.default_rng(seed)
    leavers, stayers = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    kept = np.concatenate([leavers, rng.choice(stayers, len(leavers), replace=False)])
    weights = np.where(y[kept] == 1, 1.0, len(stayers) / len(leavers))
    return kept, weights


def test_weighted_metrics_of_a_case_control_sample_estimate_the_population():
    score, y = _population()
    truth = metrics(y, 1 / (1 + np.exp(-score)))
    kept, w = _case_control(y)
    weighted = metrics(y[kept], 1 / (1 + np.exp(-score[kept])), w)
    unweighted = metrics(y[kept], 1 / (1 + np.exp(-score[kept])))
    assert weighted["roc_auc"] == pytest.approx(truth["roc_auc"], abs=0.01)
    assert weighted["pr_auc"] == pytest.approx(truth["pr_auc"], abs=0.03)
    assert unweighted["pr_auc"] > truth["pr_auc"] + 0.2, "the sample's own PR AUC is inflated by its leavers"
    assert weighted["lift_at_10"] == pytest.approx(truth["lift_at_10"], rel=0.1)


def test_a_weighted_calibration_gives_the_population_rate_not_the_sample_rate():
    score, y = _population()
    kept, w = _case_control(y)
    p = 1 / (1 + np.exp(-score[kept]))
    weighted = fit_calibrator(p, y[kept], w).predict(1 / (1 + np.exp(-score)))
    unweighted = fit_calibrator(p, y[kept]).predict(1 / (1 + np.exp(-score)))
    assert weighted.mean() == pytest.approx(y.mean(), rel=0.1)
    assert unweighted.mean() > 5 * y.mean(), "without weights the sample's 50% leaving shows through"


def test_unit_weights_change_no_metric():
    score, y = _population(5_000)
    p = 1 / (1 + np.exp(-score))
    assert metrics(y, p, np.ones(len(y))) == pytest.approx(metrics(y, p))
