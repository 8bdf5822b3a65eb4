"""Honest evaluation: repeated stratified k-fold split by customer, out-of-fold predictions,
an ensemble and a calibration fitted only on other folds' out-of-fold predictions.

For every fold of every repeat, a candidate is fitted on the training folds and predicts the
test fold. The ensemble weights and the calibrator used on fold k are fitted on the
out-of-fold predictions of the *other* folds' rows. Those predictions come from models that
were trained with fold k among their rows, so the few numbers fitted there (a weight per
member, two calibration parameters) are not strictly independent of fold k; and members are
chosen on the same folds. Both optimisms are small, stated in the benchmark report, and not
corrected (a nested cross-validation would remove them at five times the cost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retention.modeling.candidates import Candidate, build_pipeline

METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_recall", "top_decile_precision", "lift_at_10")


def metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    """`w`: how many customers each row stands for (a training sample's weights); every metric
    is then the population's, not the sample's. None: each row is one customer."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    order = np.argsort(-p, kind="stable")
    # The top decile of the population: rows in score order until their weights reach 10%.
    # (With one customer a row, the first ceil(10% of rows).)
    cumulative = np.cumsum(w[order])
    top = order[: max(1, int(np.searchsorted(cumulative, 0.1 * cumulative[-1] * (1 - 1e-12))) + 1)] if len(w) else order
    positives, total = float(w @ y), float(w.sum())
    base = positives / total if total else float("nan")
    precision = float(w[top] @ y[top] / w[top].sum())
    return {
        "roc_auc": roc_auc_score(y, p, sample_weight=w) if 0 < y.sum() < len(y) else float("nan"),
        "pr_auc": average_precision_score(y, p, sample_weight=w) if y.sum() else float("nan"),
        "brier": brier_score_loss(y, p, sample_weight=w),
        "log_loss": log_loss(y, p, labels=[0, 1], sample_weight=w),
        "top_decile_recall": float(w[top] @ y[top]) / positives if positives else float("nan"),
        "top_decile_precision": precision,
        "lift_at_10": precision / base if base else float("nan"),
    }


def summarise(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    frame = pd.DataFrame(per_fold)
    return {m: {"mean": float(frame[m].mean()), "std": float(frame[m].std(ddof=1))} for m in frame.columns}


@dataclass
class Folds:
    """The splits: (repeat, fold, train index, test index)."""

    splits: list[tuple[int, int, np.ndarray, np.ndarray]]
    n_rows: int
    weights: np.ndarray | None = None
    """Customers each row stands for (a training sample's weights), or None: one each."""

    @classmethod
    def make(
        cls, label: np.ndarray, groups: np.ndarray, n_splits: int, seeds: list[int], weights: np.ndarray | None = None
    ) -> Folds:
        from sklearn.model_selection import StratifiedGroupKFold

        splits = []
        for repeat, seed in enumerate(seeds):
            kfold = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            for fold, (train, test) in enumerate(kfold.split(np.zeros(len(label)), label, groups)):
                splits.append((repeat, fold, train, test))
        return cls(splits, len(label), weights)

    def w(self, rows: np.ndarray) -> np.ndarray | None:
        return None if self.weights is None else self.weights[rows]

    @property
    def repeats(self) -> int:
        return max(r for r, *_ in self.splits) + 1


@dataclass
class Evaluation:
    name: str
    oof: np.ndarray
    """(repeats, rows) out-of-fold probabilities."""
    per_fold: list[dict[str, float]] = field(default_factory=list)
    per_fold_seniors: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"all": summarise(self.per_fold), "seniors": summarise(self.per_fold_seniors)}


def _score_folds(evaluation: Evaluation, folds: Folds, y: np.ndarray, seniors: np.ndarray) -> Evaluation:
    for repeat, _, _, test in folds.splits:
        p, w = evaluation.oof[repeat, test], folds.w(test)
        evaluation.per_fold.append(metrics(y[test], p, w))
        mask = seniors[test]
        evaluation.per_fold_seniors.append(metrics(y[test][mask], p[mask], None if w is None else w[mask]))
    return evaluation


def evaluate_candidate(
    candidate: Candidate, X: pd.DataFrame, y: np.ndarray, seniors: np.ndarray, folds: Folds, seeds: list[int]
) -> Evaluation:
    import time

    started = time.perf_counter()
    oof = np.full((folds.repeats, folds.n_rows), np.nan)
    for repeat, _, train, test in folds.splits:
        pipeline = build_pipeline(candidate, seeds[repeat], float(y[train].mean()))
        pipeline.fit(X.iloc[train], y[train])
        # One thread to predict: a forest's trees summed by several threads come out in a
        # different order each time (differences of 1e-16), which moves the ensemble weights
        # and so the artifact's hash. Fitting stays parallel; it is deterministic.
        model = pipeline.steps[-1][1]
        if "n_jobs" in model.get_params():
            model.set_params(n_jobs=1)
        oof[repeat, test] = pipeline.predict_proba(X.iloc[test])[:, 1]
    evaluation = Evaluation(candidate.name, oof, seconds=time.perf_counter() - started)
    return _score_folds(evaluation, folds, y, seniors)


def reference_line(name: str, score: np.ndarray, y: np.ndarray, seniors: np.ndarray, folds: Folds) -> Evaluation:
    """A fixed score (IBM's Churn Score) measured on the same test folds; never trained, never a feature."""
    oof = np.tile(np.asarray(score, dtype=float), (folds.repeats, 1))
    return _score_folds(Evaluation(name, oof), folds, y, seniors)


def fit_weights(predictions: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the log loss of the weighted average
    (over the population when `w` gives each row's sampling weight)."""
    from scipy.optimize import minimize

    members = predictions.shape[0]
    clipped = np.clip(predictions, 1e-6, 1 - 1e-6)
    rows = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)

    def loss(raw: np.ndarray) -> float:
        weights = np.exp(raw - raw.max())
        weights /= weights.sum()
        p = np.clip(weights @ clipped, 1e-6, 1 - 1e-6)
        return float(-np.average(y * np.log(p) + (1 - y) * np.log(1 - p), weights=rows))

    result = minimize(loss, np.zeros(members), method="L-BFGS-B")
    weights = np.exp(result.x - result.x.max())
    weights /= weights.sum()
    weights[weights < 1e-3] = 0.0
    return weights / weights.sum()


class PlattCalibrator:
    """Platt scaling on the logit: strictly increasing, so it changes what a score means
    (0.3 is about 30% leaving) without changing any ranking (ROC and PR AUC stay as they are).
    Isotonic regression calibrated as well here but its steps tie scores and cost PR AUC."""

    def fit(self, p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        # Weighted by the sample's weights, the calibration is the population's: a training
        # sample that over-represents leavers does not inflate the probabilities.
        self.model = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p).reshape(-1, 1), y, sample_weight=w)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(_logit(p).reshape(-1, 1))[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_calibrator(p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> PlattCalibrator:
    return PlattCalibrator().fit(p, y, w)


def evaluate_ensemble(
    members: list[Evaluation], y: np.ndarray, seniors: np.ndarray, folds: Folds
) -> tuple[Evaluation, Evaluation, list[np.ndarray]]:
    """The weighted ensemble and its calibrated version, each fold judged by weights and a
    calibrator fitted on the other folds' out-of-fold predictions only."""
    raw = Evaluation("ensemble", np.full((folds.repeats, folds.n_rows), np.nan))
    calibrated = Evaluation("ensemble+platt", np.full((folds.repeats, folds.n_rows), np.nan))
    stacked = np.stack([m.oof for m in members])  # (members, repeats, rows)
    fold_weights = []
    for repeat, _, train, test in folds.splits:
        weights = fit_weights(stacked[:, repeat, train], y[train], folds.w(train))
        fold_weights.append(weights)
        blended_train = weights @ stacked[:, repeat, train]
        blended_test = weights @ stacked[:, repeat, test]
        raw.oof[repeat, test] = blended_test
        calibrated.oof[repeat, test] = fit_calibrator(blended_train, y[train], folds.w(train)).predict(blended_test)
    return _score_folds(raw, folds, y, seniors), _score_folds(calibrated, folds, y, seniors), fold_weights


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10, w: np.ndarray | None = None) -> tuple[list[dict], float]:
    """Reliability table (equal-width bins) and expected calibration error (of the population
    when `w` gives each row's sampling weight)."""
    w = np.ones(len(p)) if w is None else np.asarray(w, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        predicted, observed = float(np.average(p[mask], weights=w[mask])), float(np.average(y[mask], weights=w[mask]))
        table.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "rows": int(mask.sum()),
                      "mean_predicted": predicted, "observed_rate": observed})
        ece += w[mask].sum() / w.sum() * abs(predicted - observed)
    return table, float(ece)


def best_per_model(evaluations: list[Evaluation], key: Callable[[Evaluation], float]) -> list[Evaluation]:
    """The best configuration of each model family: the ensemble's members."""
    best: dict[str, Evaluation] = {}
    for evaluation in evaluations:
        family = evaluation.name.split("+")[0]
        if family not in best or key(evaluation) > key(best[family]):
            best[family] = evaluation
    return list(best.values())
