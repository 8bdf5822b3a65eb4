"""Checks on a weekly customer snapshot, run on its typed rows before `core.customers` sees them."""

from __future__ import annotations

import math

import great_expectations.expectations as gxe

from retention.quality.gates import Check, Finding, Suite, SuiteContext

# Typed column <- the snapshot column it comes from, where the names differ.
SOURCE_COLUMN = {
    "tenure_months": "tenure",
    "churned": "churn",
    "ibm_churn_score": "churn_score",
    "ibm_churn_score_v2": "churn_score_1",
    "ibm_cltv": "cltv",
}
REQUIRED = [
    "customer_id", "gender", "senior_citizen", "partner", "dependents", "tenure_months", "phone_service",
    "multiple_lines", "internet_service", "online_security", "online_backup", "device_protection", "tech_support",
    "streaming_tv", "streaming_movies", "contract", "paperless_billing", "payment_method", "monthly_charges",
    "total_charges", "churned", "age",
]
YES_NO_OR_NO_SERVICE = ["Yes", "No", "No internet service"]
DOMAINS = {
    "gender": ["Male", "Female"],
    "contract": ["Month-to-month", "One year", "Two year"],
    "payment_method": ["Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check"],
    "internet_service": ["DSL", "Fiber optic", "No"],
    "multiple_lines": ["Yes", "No", "No phone service"],
    **{
        column: YES_NO_OR_NO_SERVICE
        for column in (
            "online_security", "online_backup", "device_protection", "tech_support", "streaming_tv", "streaming_movies",
        )
    },
}
NOT_NULL = ["customer_id", "senior_citizen", "tenure_months", "contract", "monthly_charges", "churned", "age"]
NON_NEGATIVE = ["monthly_charges", "total_charges", "total_refunds", "total_extra_data_charges",
                "total_long_distance_charges"]


def prepare(frame, context: SuiteContext):
    """Columns the file did not have are dropped (so 'required columns present' can see it);
    the churn flag becomes a number so its mean is the churn rate."""
    missing = set(context.missing_columns)
    frame = frame.drop(columns=[c for c in frame.columns if SOURCE_COLUMN.get(c, c) in missing])
    if "churned" in frame.columns:
        frame = frame.assign(churn_flag=frame["churned"].astype("Float64"))
    return frame


def findings(context: SuiteContext) -> list[Finding]:
    t = context.thresholds
    attrition = []
    if context.previous_gone_share is not None:
        attrition.append(Finding(
            "weekly_attrition_within_band",
            f"At most {t.weekly_attrition_max:.0%} of last week's customers are gone from this week's file",
            context.previous_gone_share <= t.weekly_attrition_max,
            f"{context.previous_gone_share:.2%} of {context.previous_row_count} gone",
            blocking=True,
        ))
    return attrition + [
        Finding(
            "file_is_plain_utf8", "The file is UTF-8 without a byte order mark (others are decoded, but say so)",
            context.encoding == "utf-8", context.encoding,
        ),
        Finding(
            "file_has_no_unknown_columns", "Columns the contract does not know are kept in raw, not published",
            not context.unexpected_columns, ", ".join(context.unexpected_columns) or "none",
        ),
    ]


def checks(context: SuiteContext, frame) -> list[Check]:
    t = context.thresholds
    result = [
        Check(gxe.ExpectTableColumnsToMatchSet(column_set=REQUIRED, exact_match=False), True,
              "Every required column is in the file (a renamed column counts as missing)"),
        Check(gxe.ExpectTableRowCountToBeBetween(min_value=1), True, "The file has customer rows"),
        Check(gxe.ExpectColumnValuesToBeNull(column="file_error"), True,
              "Each line has as many fields as the header"),
        Check(gxe.ExpectColumnValuesToBeNull(column="parse_errors"), True,
              "Numbers, Yes/No and 0/1 fields hold what their type allows"),
        Check(gxe.ExpectColumnValuesToBeUnique(column="customer_id"), True, "A customer appears once per snapshot"),
        Check(gxe.ExpectColumnValuesToBeBetween(column="age", min_value=18, max_value=120), True,
              "Age is between 18 and 120"),
        Check(gxe.ExpectColumnValuesToBeBetween(column="tenure_months", min_value=0, max_value=1200), True,
              "Tenure is between 0 and 1200 months"),
        Check(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="total_charges", column_B="monthly_charges", or_equal=True,
                row_condition="tenure_months > 0", condition_parser="pandas",
                ignore_row_if="either_value_is_missing",
            ),
            True, "Total charges are at least one monthly charge once tenure starts",
        ),
        Check(gxe.ExpectColumnValuesToBeBetween(column="latitude", min_value=-90, max_value=90), False,
              "Latitude is a latitude"),
    ]
    result += [
        Check(gxe.ExpectColumnValuesToNotBeNull(column=column), True, f"{column} is present on every row")
        for column in NOT_NULL
    ]
    result += [
        Check(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0), True, f"{column} is not negative")
        for column in NON_NEGATIVE
    ]
    result += [
        Check(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values), True,
              f"{column} is one of {', '.join(values)}")
        for column, values in DOMAINS.items()
    ]
    if "churn_flag" in frame.columns and frame["churn_flag"].sum() > 0:
        # Only files that carry churn labels (the IBM export); weekly files list active customers.
        result.append(Check(
            gxe.ExpectColumnMeanToBeBetween(column="churn_flag", min_value=t.churn_rate_min, max_value=t.churn_rate_max),
            True, f"Churn rate is between {t.churn_rate_min:.0%} and {t.churn_rate_max:.0%}",
        ))
    if "file_snapshot_date" in frame.columns and frame["file_snapshot_date"].notna().any() and context.snapshot_date:
        result.append(Check(
            gxe.ExpectColumnValuesToBeInSet(column="file_snapshot_date", value_set=[context.snapshot_date]), True,
            f"The file's snapshot_date column says {context.snapshot_date}, the week it is loaded for",
        ))
    if context.previous_row_count:
        low = math.floor(context.previous_row_count * t.volume_min_ratio)
        high = math.ceil(context.previous_row_count * t.volume_max_ratio)
        result.append(Check(
            gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high), True,
            f"Row count is within {t.volume_min_ratio:g}x-{t.volume_max_ratio:g}x of the last published "
            f"snapshot ({context.previous_row_count} rows)",
        ))
    return result


SUITE = Suite(name="telco_customers", checks=checks, findings=findings, prepare=prepare)
