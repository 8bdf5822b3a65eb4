"""What a churn model may see, and the guard that stops training when something leaks.

Two lines of defence. By name: the label, columns known only after churn and other models'
outputs (README, "Leaking columns") can never be features, whatever they are called in the
frame. By behaviour: any feature that on its own separates the classes almost perfectly
(single-feature ROC AUC above `RETENTION_LEAKAGE_MAX_SINGLE_AUC`, default 0.95) stops
training with a message naming it, because an honest churn feature never does.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from retention.warehouse import Warehouse

NUMERIC = [
    "age", "tenure_months", "number_of_referrals", "monthly_charges", "total_charges", "total_refunds",
    "total_extra_data_charges", "total_long_distance_charges", "avg_monthly_long_distance_charges",
    "avg_monthly_gb_download", "latitude", "longitude", "services_count", "charges_per_tenure_month",
]
BOOLEAN = [
    "senior_citizen", "partner", "dependents", "married", "paperless_billing", "phone_service", "streaming_music",
    "premium_tech_support", "unlimited_data", "referred_a_friend",
]
CATEGORICAL = [
    "gender", "contract", "payment_method", "multiple_lines", "internet_service", "online_security", "online_backup",
    "device_protection", "tech_support", "streaming_tv", "streaming_movies", "offer",
]
FEATURES = NUMERIC + BOOLEAN + CATEGORICAL
LABEL = "churn_label"
KEYS = ["snapshot_date", "customer_id"]

# Names (raw IBM header, snake_case, or core) that must never reach a churn model.
FORBIDDEN = re.compile(
    r"^(churn|churned|churn_label|churn_rate|churn_value|churn_score(_1)?|churn_score\.1|churn_category|churn_reason"
    r"|customer_status|satisfaction_score|cltv|ibm_.*|total_revenue|customer_?id"
    r"|left_within_horizon|labelled_from|horizon_weeks)$",
    re.IGNORECASE,
)


class LeakageError(RuntimeError):
    """A column that leaks the label reached the model's inputs; training stops."""


def guard_names(columns: list[str]) -> None:
    leaking = [c for c in columns if FORBIDDEN.match(c.strip().replace(" ", "_"))]
    if leaking:
        raise LeakageError(
            f"leaking column(s) {leaking} in the model's inputs: they are the label, known only after churn, "
            "or another model's output (README, 'Leaking columns'); remove them from the feature list"
        )


def max_single_feature_auc() -> float:
    return float(os.environ.get("RETENTION_LEAKAGE_MAX_SINGLE_AUC", "0.95"))


def single_feature_auc(values: pd.Series, label: pd.Series) -> float:
    """How well one column alone ranks churners, either way round (0.5 = not at all)."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    frame = pd.DataFrame({"x": values, "y": label.astype(int)})
    if pd.api.types.is_numeric_dtype(frame["x"]) and not pd.api.types.is_bool_dtype(frame["x"]):
        score = pd.to_numeric(frame["x"], errors="coerce").astype(float)
        score = score.fillna(score.median() if score.notna().any() else 0.0)
    else:  # categories (and booleans): each value scored by its churn rate
        keys = frame["x"].astype("string").fillna("<missing>")
        score = keys.map(frame.groupby(keys)["y"].mean()).astype(float)
    if frame["y"].nunique() < 2:
        return 0.5
    auc = roc_auc_score(frame["y"], score)
    return max(auc, 1 - auc)


def guard_behaviour(frame: pd.DataFrame, label: pd.Series, bound: float | None = None) -> dict[str, float]:
    bound = max_single_feature_auc() if bound is None else bound
    aucs = {column: single_feature_auc(frame[column], label) for column in frame.columns}
    too_good = {c: round(a, 4) for c, a in aucs.items() if a > bound}
    if too_good:
        raise LeakageError(
            f"feature(s) {too_good} separate churners almost perfectly on their own (single-feature ROC AUC above "
            f"{bound}): that is a leak, not a signal. Find where the column comes from; raise "
            "RETENTION_LEAKAGE_MAX_SINGLE_AUC only if you can explain why it is honest"
        )
    return aucs


def model_inputs(frame: pd.DataFrame, features: list[str] = FEATURES) -> pd.DataFrame:
    """The feature columns, after the name guard (the behaviour guard runs in training, where
    the label is known); booleans as numbers, categories as text."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    guard_names(features)
    inputs = frame[features].copy()
    for column in BOOLEAN:
        if column in inputs:
            inputs[column] = inputs[column].astype("Float64").astype(float)
    for column in CATEGORICAL:
        if column in inputs:
            values = inputs[column]
            # Text columns (what the warehouse returns) stay Arrow-backed: a round trip through
            # Python objects cost a third of scoring's time (measured, one core).
            arrow_text = is_string_dtype(values.dtype) and not is_object_dtype(values.dtype)
            inputs[column] = values.fillna("<missing>") if arrow_text \
                else values.astype(object).where(values.notna(), "<missing>").astype(str)
    for column in NUMERIC:
        if column in inputs:
            inputs[column] = inputs[column].astype("Float64").astype(float)
    return inputs


def build_features(warehouse: Warehouse, snapshot_date: dt.date, core_table: str = "customers") -> int:
    """Replace the week in ml.churn_features from `core.<core_table>` (`reference_customers`
    for the labelled IBM export)."""
    warehouse.run_file("ml/churn_features/create.sql")
    warehouse.publish_partition_file(
        "ml/churn_features/publish.sql", warehouse.table_id("ml", "churn_features"), "snapshot_date", snapshot_date,
        {"snapshot_date": snapshot_date}, identifiers={"core_table": core_table},
    )
    return warehouse.count_rows(warehouse.table_id("ml", "churn_features"), "snapshot_date = @d", {"d": snapshot_date})


def load_features(warehouse: Warehouse, snapshot_date: dt.date) -> pd.DataFrame:
    return warehouse.dataframe(
        "SELECT * FROM `{{ ml }}.churn_features` WHERE snapshot_date = @snapshot_date ORDER BY customer_id",
        {"snapshot_date": snapshot_date},
        source="ml.churn_features",
    )


def build_labels(warehouse: Warehouse, snapshot_date: dt.date, horizon_weeks: int) -> int:
    """Label a week from the week `horizon_weeks` later (0 rows while that week is unknown)."""
    warehouse.run_file("ml/churn_labels/create.sql")
    warehouse.run_file("ml/churn_labels/publish.sql", {"snapshot_date": snapshot_date, "horizon_weeks": horizon_weeks})
    return warehouse.count_rows(
        warehouse.table_id("ml", "churn_labels"), "snapshot_date = @d AND horizon_weeks = @h",
        {"d": snapshot_date, "h": horizon_weeks},
    )


def load_labelled_history(warehouse: Warehouse, weeks: list[dt.date], horizon_weeks: int) -> pd.DataFrame:
    """Features of `weeks` with the label read from later weeks in place of any label column."""
    return warehouse.dataframe(
        "SELECT features.* REPLACE (labels.left_within_horizon AS churn_label) "
        "FROM `{{ ml }}.churn_features` AS features "
        "JOIN `{{ ml }}.churn_labels` AS labels USING (snapshot_date, customer_id) "
        "WHERE features.snapshot_date IN UNNEST(@weeks) AND labels.horizon_weeks = @horizon_weeks "
        "ORDER BY snapshot_date, customer_id",
        {"weeks": weeks, "horizon_weeks": horizon_weeks},
        source="ml.churn_features + ml.churn_labels",
    )
