"""Train a churn model: guard the inputs, evaluate the candidates, blend, calibrate, fit for real."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retention.modeling.candidates import Candidate, build_pipeline, quick_grid
from retention.modeling.evaluation import (
    Evaluation, Folds, best_per_model, evaluate_candidate, evaluate_ensemble, fit_calibrator, fit_weights,
    reference_line, reliability,
)
from retention.modeling.features import FEATURES, LABEL, guard_behaviour, model_inputs

log = logging.getLogger(__name__)


@dataclass
class ChurnModel:
    """What is saved as the artifact: fitted members, their weights, the calibrator."""

    features: list[str]
    members: list[tuple[str, object, float]]
    """(candidate name, fitted pipeline, weight)."""
    calibrator: object
    explainer: object | None = None
    """Tree members that give each score its reasons (retention.modeling.explain)."""
    segmenter: object | None = None
    """Behaviour segments fitted on the training rows (retention.modeling.segments)."""
    cltv: object | None = None
    """CLTV regressor (retention.modeling.cltv), None when the training rows have no CLTV."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_inputs(model_inputs(frame, self.features))

    def predict_inputs(self, inputs: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for rows already through `model_inputs`. Members whose
        preparation is the same (every tree model: impute + one-hot, fitted on the same rows)
        share one transformation (retention.modeling.fast: the pipelines' numbers, fast)."""
        from retention.modeling.fast import probability

        blended = np.zeros(len(inputs))
        prepared = self.prepared(inputs)
        for _, pipeline, weight in self.members:
            matrix = prepared[_preparation_key(pipeline.named_steps["prepare"])]
            blended += weight * probability(pipeline.named_steps["model"], matrix)
        return self.calibrator.predict(blended)

    def prepared(self, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each distinct preparation of the members applied to `inputs`, by its key."""
        from retention.modeling.fast import Preparation

        fast = self.__dict__.setdefault("_preparations", {})
        out = {}
        for _, pipeline, _ in self.members:
            prepare = pipeline.named_steps["prepare"]
            key = _preparation_key(prepare)
            if key not in out:
                if key not in fast:
                    fast[key] = Preparation(prepare)
                out[key] = fast[key].transform(inputs)
        return out

    def use_threads(self, threads: int) -> None:
        """How many threads each member predicts with (the worker's share of its cores)."""
        for _, pipeline, _ in self.members:
            model = pipeline.named_steps["model"]
            if "n_jobs" in model.get_params():
                model.set_params(n_jobs=threads)
            if type(model).__name__ == "XGBClassifier":
                model.get_booster().set_param({"nthread": threads})

    def __getstate__(self) -> dict:
        # What is derived from the members at run time is not part of the artifact.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class TrainingResult:
    model: ChurnModel
    evaluations: list[Evaluation]
    ensemble: Evaluation
    calibrated: Evaluation
    reference: Evaluation | None
    weights: dict[str, float]
    reliability_before: list[dict]
    reliability_after: list[dict]
    ece_before: float
    ece_after: float
    single_feature_auc: dict[str, float]
    rows: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def headline(self) -> dict:
        summary = self.calibrated.summary()
        return {"roc_auc": summary["all"]["roc_auc"]["mean"], "pr_auc": summary["all"]["pr_auc"]["mean"]}


def train(
    frame: pd.DataFrame,
    candidates: list[Candidate] | None = None,
    *,
    n_splits: int = 5,
    seeds: tuple[int, ...] = (0, 1),
    features: list[str] = FEATURES,
) -> TrainingResult:
    """`frame`: rows of ml.churn_features with a known `churn_label`; with a `sample_weight`
    column (a training sample, retention.modeling.training_sample) the ensemble weights, the
    calibration and every metric are weighted to speak for the population."""
    started = time.perf_counter()
    candidates = candidates or quick_grid()
    labelled = frame[frame[LABEL].notna()].reset_index(drop=True)
    X = model_inputs(labelled, features)
    y = labelled[LABEL].astype(bool).to_numpy().astype(int)
    seniors = labelled["senior_citizen"].fillna(False).astype(bool).to_numpy()
    aucs = guard_behaviour(X, pd.Series(y))
    w = labelled["sample_weight"].astype(float).to_numpy() if "sample_weight" in labelled else None
    folds = Folds.make(y, labelled["customer_id"].to_numpy(), n_splits, list(seeds), w)

    evaluations = []
    for candidate in candidates:
        evaluation = evaluate_candidate(candidate, X, y, seniors, folds, list(seeds))
        log.info("%-45s ROC AUC %.4f  PR AUC %.4f  (%.0fs)", candidate.name,
                 evaluation.summary()["all"]["roc_auc"]["mean"], evaluation.summary()["all"]["pr_auc"]["mean"],
                 evaluation.seconds)
        evaluations.append(evaluation)
    members = best_per_model(evaluations, key=lambda e: e.summary()["all"]["pr_auc"]["mean"])
    ensemble, calibrated, _ = evaluate_ensemble(members, y, seniors, folds)

    reference = None
    if "ibm_churn_score" in labelled and labelled["ibm_churn_score"].notna().all():
        reference = reference_line("IBM Churn Score (reference)", labelled["ibm_churn_score"].to_numpy() / 100.0,
                                   y, seniors, folds)

    # The production model: members refitted on every row, weights and calibrator fitted on
    # the first repeat's out-of-fold predictions (never on predictions of a row's own model).
    stacked = np.stack([m.oof[0] for m in members])
    weights = fit_weights(stacked, y, w)
    blended_oof = weights @ stacked
    calibrator = fit_calibrator(blended_oof, y, w)
    by_name = {c.name: c for c in candidates}
    fitted = []
    for member, weight in zip(members, weights, strict=True):
        if weight > 0:
            pipeline = build_pipeline(by_name[member.name], seeds[0], float(y.mean()))
            fitted.append((member.name, pipeline.fit(X, y), float(weight)))
    before, ece_before = reliability(ensemble.oof[0], y, w=w)
    after, ece_after = reliability(calibrated.oof[0], y, w=w)
    weight_map = {m.name: float(w) for m, w in zip(members, weights, strict=True)}
    explainer = _explainer(fitted, candidates, X, y, seeds[0])
    from retention.modeling.cltv import fit_cltv
    from retention.modeling.segments import Segmenter

    segmenter = Segmenter(k=int(os.environ.get("RETENTION_SEGMENTS", "5")), seed=seeds[0]).fit(labelled)
    cltv = fit_cltv(labelled, seeds[0])
    notes = []
    if cltv is None:
        notes.append("no CLTV in the training rows: predicted CLTV is left empty")
    if max(weights) > 0.99:
        notes.append(f"the ensemble put all its weight on {members[int(np.argmax(weights))].name}")
    return TrainingResult(
        model=ChurnModel(list(features), fitted, calibrator, explainer, segmenter, cltv),
        evaluations=evaluations, ensemble=ensemble, calibrated=calibrated, reference=reference, weights=weight_map,
        reliability_before=before, reliability_after=after, ece_before=ece_before, ece_after=ece_after,
        single_feature_auc=aucs, rows=len(labelled), seconds=time.perf_counter() - started, notes=notes,
    )


def _explainer(fitted, candidates, X: pd.DataFrame, y: np.ndarray, seed: int):
    """Reasons come from the ensemble's tree members; if it weighs none, from the best tree
    candidate fitted for that purpose only (it does not change any score)."""
    from retention.modeling.explain import TREE_MODELS, Explainer

    if any(name.split("+")[0] in TREE_MODELS and weight > 0 for name, _, weight in fitted):
        return Explainer(fitted, list(X.columns))
    tree = next((c for c in candidates if c.model in TREE_MODELS), Candidate("lightgbm", "none"))
    pipeline = build_pipeline(tree, seed, float(y.mean())).fit(X, y)
    return Explainer([(tree.name, pipeline, 1.0)], list(X.columns))


def _preparation_key(prepare) -> str:
    """Equal for preparations configured alike (they were all fitted on the same rows)."""
    return repr([(name, repr(step)) for name, step, _ in prepare.transformers])
