"""Scoring's fast paths give the fitted pipelines' own numbers: preparation, probabilities, TreeSHAP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retention.modeling.candidates import Candidate, build_pipeline
from retention.modeling.fast import Preparation, probability
from retention.modeling.features import BOOLEAN, CATEGORICAL, FEATURES, NUMERIC, model_inputs
from retention.modeling.treeshap import XGBoostTreeShap

LEVELS = ["a", "b", "c", "Month-to-month"]


def _features(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.gamma(2.0, 20.0, rows) for name in NUMERIC})
    for name in BOOLEAN:
        frame[name] = pd.array(rng.random(rows) < 0.4, dtype="boolean")
    for name in CATEGORICAL:
        frame[name] = rng.choice(LEVELS, rows)
    # Gaps the imputer and the "<missing>" category fill.
    frame.loc[rng.random(rows) < 0.05, "total_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "contract"] = None
    risk = (frame["contract"] == "Month-to-month") * 1.5 - frame["tenure_months"] / 40 + rng.normal(0, 1, rows)
    return frame, (risk > 0.3).to_numpy().astype(int)


@pytest.fixture(scope="module")
def fitted():
    frame, y = _features(1500, 0)
    X = model_inputs(frame, FEATURES)
    pipelines = {
        c.name: build_pipeline(c, 0, float(y.mean())).fit(X, y)
        for c in (Candidate("logistic_regression", "class_weight", "standard"),
                  Candidate("logistic_regression", "none", "robust"),
                  Candidate("logistic_regression", "none", "minmax"),
                  Candidate("xgboost", "none"), Candidate("lightgbm", "none"))
    }
    later, _ = _features(600, 1)
    later.loc[:5, "payment_method"] = "a category never seen in training"
    return pipelines, model_inputs(later, FEATURES)


def test_the_fast_preparation_is_the_column_transformers_matrix(fitted):
    pipelines, inputs = fitted
    for name, pipeline in pipelines.items():
        prepare = pipeline.named_steps["prepare"]
        np.testing.assert_allclose(Preparation(prepare).transform(inputs), prepare.transform(inputs),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


def test_fast_probabilities_are_the_pipelines_predict_proba(fitted):
    pipelines, inputs = fitted
    for name, pipeline in pipelines.items():
        matrix = Preparation(pipeline.named_steps["prepare"]).transform(inputs)
        np.testing.assert_allclose(probability(pipeline.named_steps["model"], matrix),
                                   pipeline.predict_proba(inputs)[:, 1], rtol=1e-6, atol=1e-7, err_msg=name)


def test_table_treeshap_gives_xgboosts_own_pred_contribs(fitted):
    from xgboost import DMatrix

    pipelines, inputs = fitted
    pipeline = pipelines["xgboost+none"]
    matrix = Preparation(pipeline.named_steps["prepare"]).transform(inputs)
    booster = pipeline.named_steps["model"].get_booster()
    expected = booster.predict(DMatrix(matrix.astype(np.float32)), pred_contribs=True)[:, :-1]
    explainer = XGBoostTreeShap(booster)
    np.testing.assert_allclose(explainer.contributions(matrix), expected, atol=1e-5)
    # The second time rows are read from the tables: the same numbers.
    np.testing.assert_allclose(explainer.contributions(matrix[::-1]), expected[::-1], atol=1e-5)


def test_table_treeshap_follows_xgboosts_default_direction_for_missing_values():
    from xgboost import DMatrix, XGBClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, 5))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    X[rng.random(X.shape) < 0.2] = np.nan
    model = XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
    expected = model.get_booster().predict(DMatrix(X.astype(np.float32)), pred_contribs=True)[:, :-1]
    np.testing.assert_allclose(XGBoostTreeShap(model.get_booster()).contributions(X), expected, atol=1e-5)


def test_trees_too_deep_for_the_tables_are_refused_with_what_to_do():
    from xgboost import XGBClassifier

    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 8))
    y = (np.sin(X[:, 0] * 3) + X[:, 1] * X[:, 2] > 0).astype(int)
    model = XGBClassifier(n_estimators=3, max_depth=8, n_jobs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="too deep for the table explainer"):
        XGBoostTreeShap(model.get_booster())
