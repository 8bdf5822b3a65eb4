"""Customer lifetime value and revenue at risk, honestly.

CLTV is IBM's figure ("calculated using corporate formulas"): a regression target. The model
uses the same honest features as churn (never `total_revenue`, an accounting identity of the
charge columns, nor the churn label) and is compared with the naive baseline that predicts
the training folds' mean, on the same folds. Revenue at risk is not predicted at all: it is
the calibrated churn probability times the monthly charge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.modeling.features import FEATURES, guard_names, model_inputs

TARGET = "ibm_cltv"


def revenue_at_risk(churn_probability: np.ndarray, monthly_charges: np.ndarray) -> np.ndarray:
    """Expected monthly revenue lost: P(leave) x monthly charge."""
    return np.asarray(churn_probability, dtype=float) * np.asarray(monthly_charges, dtype=float)


def _regressor(seed: int):
    from lightgbm import LGBMRegressor
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from retention.modeling.features import BOOLEAN, CATEGORICAL, NUMERIC

    prepare = ColumnTransformer([
        ("numeric", SimpleImputer(strategy="median"), NUMERIC + BOOLEAN),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
    ])
    model = LGBMRegressor(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=30,
                          n_jobs=2, random_state=seed, verbose=-1)
    return Pipeline([("prepare", prepare), ("model", model)])


def evaluate_cltv(frame: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import GroupKFold

    guard_names(FEATURES)
    labelled = frame[frame[TARGET].notna()].reset_index(drop=True)
    X = model_inputs(labelled, FEATURES)
    y = labelled[TARGET].astype(float).to_numpy()
    scores: dict[str, list[dict[str, float]]] = {"lightgbm": [], "naive mean": []}
    for train, test in GroupKFold(n_splits=n_splits).split(X, y, labelled["customer_id"]):
        predicted = _regressor(seed).fit(X.iloc[train], y[train]).predict(X.iloc[test])
        for name, p in (("lightgbm", predicted), ("naive mean", np.full(len(test), y[train].mean()))):
            scores[name].append({
                "mae": mean_absolute_error(y[test], p),
                "rmse": float(np.sqrt(mean_squared_error(y[test], p))),
                "r2": r2_score(y[test], p),
            })
    return {
        name: {f"{k}_{stat}": float(getattr(pd.DataFrame(rows)[k], stat)()) for k in ("mae", "rmse", "r2")
               for stat in ("mean", "std")}
        for name, rows in scores.items()
    }


MIN_CLTV_ROWS = 200


def fit_cltv(frame: pd.DataFrame, seed: int = 0):
    """The CLTV regressor fitted on every row with a CLTV, or None if there are too few."""
    labelled = frame[frame[TARGET].notna()] if TARGET in frame else frame.iloc[:0]
    if len(labelled) < MIN_CLTV_ROWS:
        return None
    return _regressor(seed).fit(model_inputs(labelled, FEATURES), labelled[TARGET].astype(float).to_numpy())
