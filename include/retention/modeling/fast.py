"""The fitted pipelines' predictions without their per-call overheads, for scoring millions.

Same numbers, less work: scikit-learn's ColumnTransformer and OneHotEncoder check and convert
object columns on every call (as long as the tree models' predictions), so the one-hot
columns are made here from the fitted encoder's own categories with `pandas.Categorical`
codes, and the numeric block goes through the fitted imputer (and scaler) as one float
array. XGBoost predicts with `inplace_predict` (no DMatrix), LightGBM on its booster. Tests
hold every output equal to the pipeline's own (`prepare.transform`, `predict_proba`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class Preparation:
    """A fitted `prepare` ColumnTransformer (numeric pipeline + one-hot), applied fast."""

    def __init__(self, prepare) -> None:
        blocks = {name: (step, list(columns)) for name, step, columns in prepare.transformers_ if name != "remainder"}
        if set(blocks) != {"numeric", "categorical"}:
            raise ValueError(f"unexpected preparation blocks {sorted(blocks)}: expected numeric and categorical")
        numeric, self.numeric_columns = blocks["numeric"]
        self.fill, self.shift, self.scale = _numeric_steps(numeric, len(self.numeric_columns))
        encoder, self.categorical_columns = blocks["categorical"]
        self.categories = [pd.Index(c) for c in encoder.categories_]
        self._arrow_categories = [pa.array([str(v) for v in c], type=pa.string()) for c in encoder.categories_]
        self.width = len(prepare.get_feature_names_out())

    def transform(self, inputs: pd.DataFrame) -> np.ndarray:
        """The same matrix as `prepare.transform(inputs)`."""
        rows = len(inputs)
        numeric = inputs[self.numeric_columns].to_numpy(dtype=float)
        numeric = (np.where(np.isnan(numeric), self.fill, numeric) - self.shift) * self.scale
        out = np.zeros((rows, self.width))
        out[:, : numeric.shape[1]] = numeric
        offset = numeric.shape[1]
        everywhere = np.arange(rows)
        for column, categories, arrow_categories in zip(
            self.categorical_columns, self.categories, self._arrow_categories, strict=True
        ):
            codes = _codes(inputs[column], categories, arrow_categories)
            known = codes >= 0  # an unknown category is all zeros, as handle_unknown="ignore" does
            out[everywhere[known], offset + codes[known]] = 1.0
            offset += len(categories)
        return out


def _codes(values: pd.Series, categories: pd.Index, arrow_categories: pa.Array) -> np.ndarray:
    """Position of each value among the fitted categories, -1 if unknown. Arrow-backed text is
    looked up by Arrow itself (no Python string objects); anything else through pandas."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" and all(
        isinstance(v, str) for v in categories
    ):
        found = pc.index_in(pa.array(values), value_set=arrow_categories)
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.asarray(pd.Categorical(values.to_numpy(), categories=categories).codes, dtype=np.int64)


def probability(model, matrix: np.ndarray) -> np.ndarray:
    """P(class 1) of a fitted classifier on a prepared matrix."""
    name = type(model).__name__
    if name == "XGBClassifier":
        return model.get_booster().inplace_predict(matrix)
    if name == "LGBMClassifier":
        return model.booster_.predict(matrix, num_threads=model.get_params().get("n_jobs") or 1)
    return model.predict_proba(matrix)[:, 1]


def _numeric_steps(numeric, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fill, shift, scale) such that the block is (fillna(x, fill) - shift) * scale."""
    steps = dict(numeric.steps) if hasattr(numeric, "steps") else {"impute": numeric}
    fill = np.asarray(steps.pop("impute").statistics_, dtype=float)
    shift, scale = np.zeros(columns), np.ones(columns)
    scaler = steps.pop("scale", None)
    if steps:
        raise ValueError(f"unexpected numeric steps {sorted(steps)}: expected impute and an optional scale")
    kind = type(scaler).__name__
    if kind == "StandardScaler":
        shift, scale = scaler.mean_, 1 / scaler.scale_
    elif kind == "RobustScaler":
        shift, scale = scaler.center_, 1 / scaler.scale_
    elif kind == "MinMaxScaler":  # x * scale_ + min_ = (x + min_ / scale_) * scale_
        shift, scale = -scaler.min_ / scaler.scale_, scaler.scale_
    elif scaler is not None:
        raise ValueError(f"no fast path for the scaler {kind}")
    return fill, np.asarray(shift, dtype=float), np.asarray(scale, dtype=float)
