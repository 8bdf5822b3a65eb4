"""The candidate grid: model x scaling x class-imbalance treatment, as imbalanced-learn pipelines.

Resampling (SMOTE, Borderline-SMOTE) is a pipeline step, so it only ever runs on the rows a
pipeline is fitted on: inside the training folds, never on a test fold. Scaling matters
only for logistic regression; trees get the raw numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from retention.modeling.features import CATEGORICAL, NUMERIC, BOOLEAN

MODELS = ("logistic_regression", "random_forest", "xgboost", "lightgbm")
SCALERS = ("standard", "robust", "minmax")
IMBALANCE = ("none", "class_weight", "smote", "borderline_smote")


@dataclass(frozen=True)
class Candidate:
    model: str
    imbalance: str
    scaler: str | None = None

    @property
    def name(self) -> str:
        return "+".join(part for part in (self.model, self.scaler, self.imbalance) if part)


def full_grid() -> list[Candidate]:
    grid = [Candidate("logistic_regression", imbalance, scaler) for scaler in SCALERS for imbalance in IMBALANCE]
    grid += [Candidate(model, imbalance) for model in MODELS[1:] for imbalance in IMBALANCE]
    return grid


def quick_grid() -> list[Candidate]:
    """What the weekly DAG trains by default: logistic regression and XGBoost. The random
    forest and LightGBM members it used to blend in too bought 0.0003 ROC AUC and 0.001 PR AUC
    on the benchmark folds (docs/churn_model_benchmark.md, "Which members the weekly champion
    keeps") for most of scoring's time; `RETENTION_TRAINING_GRID=full` still tries every family."""
    return [
        Candidate("logistic_regression", "class_weight", "standard"),
        Candidate("xgboost", "none"),
    ]


def former_quick_grid() -> list[Candidate]:
    """The weekly champion's members until the scoring speed-up, kept for the benchmark's comparison."""
    return [
        Candidate("logistic_regression", "class_weight", "standard"),
        Candidate("random_forest", "none"),
        Candidate("xgboost", "none"),
        Candidate("lightgbm", "none"),
    ]


def build_pipeline(candidate: Candidate, seed: int, positive_share: float):
    from imblearn.over_sampling import SMOTE, BorderlineSMOTE
    from imblearn.pipeline import Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler

    numeric_steps = [("impute", SimpleImputer(strategy="median"))]
    if candidate.scaler:
        numeric_steps.append(
            ("scale", {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}[candidate.scaler]())
        )
    from sklearn.pipeline import Pipeline as SkPipeline

    prepare = ColumnTransformer(
        [
            ("numeric", SkPipeline(numeric_steps), NUMERIC + BOOLEAN),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ]
    )
    steps = [("prepare", prepare)]
    if candidate.imbalance == "smote":
        steps.append(("resample", SMOTE(random_state=seed)))
    elif candidate.imbalance == "borderline_smote":
        steps.append(("resample", BorderlineSMOTE(random_state=seed)))
    steps.append(("model", _model(candidate, seed, positive_share)))
    return Pipeline(steps)


def _model(candidate: Candidate, seed: int, positive_share: float):
    weighted = candidate.imbalance == "class_weight"
    if candidate.model == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000, C=0.5, class_weight="balanced" if weighted else None)
    if candidate.model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=300, min_samples_leaf=5, max_features="sqrt", n_jobs=2, random_state=seed,
            class_weight="balanced_subsample" if weighted else None,
        )
    if candidate.model == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=300, learning_rate=0.05, max_depth=4, subsample=0.8, colsample_bytree=0.8,
            min_child_weight=3, n_jobs=2, random_state=seed, eval_metric="logloss", verbosity=0,
            scale_pos_weight=(1 - positive_share) / positive_share if weighted else 1.0,
        )
    if candidate.model == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=30, subsample=0.8,
            subsample_freq=1, colsample_bytree=0.8, n_jobs=2, random_state=seed, verbose=-1,
            class_weight="balanced" if weighted else None,
        )
    raise ValueError(f"unknown model {candidate.model!r}; expected one of {MODELS}")
