"""A static HTML report of the marts: what a marketer would see in Looker Studio, offline.

    python -m retention.marts report [--out .local/report/churn_report.html]

One self-contained file: the charts are PNG images inlined as data URIs and the page has no
script, font or style sheet from anywhere else, so it opens with no network. Everything in it
is read from the `marts` tables (and the week's scores for the histogram), the same tables a
Looker Studio report reads.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from retention.warehouse import Warehouse

COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#7f8c8d", "accent": "#2c6e9b"}


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float = 7.0, height: float = 3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height))
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            text = "" if value is None or (isinstance(value, float) and value != value) else (
                formats[column].format(value) if column in formats else str(value)
            )
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def risk_distribution(scores: pd.DataFrame, thresholds: tuple[float, float]) -> str:
    figure, axes = _figure()
    for band in ("low", "medium", "high"):
        values = scores.loc[scores["risk_band"] == band, "churn_probability"]
        axes.hist(values, bins=[i / 40 for i in range(41)], color=COLOURS[band], label=f"{band} ({len(values):,})")
    for threshold in thresholds:
        axes.axvline(threshold, color="black", linewidth=0.8, linestyle="--")
    axes.set_xlabel("calibrated churn probability")
    axes.set_ylabel("customers")
    axes.legend(frameon=False)
    return _png(figure)


def churn_by_age_band(by_week: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    latest = by_week[by_week["week"] == by_week["week"].max()]
    bands = latest.groupby("age_band").agg(customers=("customers", "sum"), at_risk=("at_risk_customers", "sum"))
    weighted = latest.assign(p=latest["average_churn_probability"] * latest["customers"]).groupby("age_band")["p"].sum()
    bands["average_probability"] = weighted / bands["customers"]
    bands["at_risk_share"] = bands["at_risk"] / bands["customers"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for axes in (left, right):
        axes.spines[["top", "right"]].set_visible(False)
    left.bar(bands.index, bands["average_probability"], color=COLOURS["accent"])
    left.set_title("average churn probability, latest week", fontsize=10)
    right.bar(bands.index, bands["at_risk_share"], color=COLOURS["high"])
    right.set_title("share at risk (high band), latest week", fontsize=10)
    for axes in (left, right):
        axes.set_xlabel("age band")
        axes.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _png(figure)


def observed_churn_by_age_band(by_week: pd.DataFrame) -> str | None:
    known = by_week[by_week["left_by_next_week"].notna()]
    if known.empty:
        return None
    rates = known.groupby(["week", "age_band"])[["left_by_next_week", "customers"]].sum()
    rates = (rates["left_by_next_week"] / rates["customers"]).unstack("age_band")
    figure, axes = _figure()
    for band in rates.columns:
        axes.plot(rates.index.astype(str), rates[band], marker="o", label=band)
    axes.set_ylabel("left by the next week")
    axes.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    axes.legend(frameon=False, title="age band")
    return _png(figure)


def top_reasons(reasons: pd.DataFrame) -> str:
    figure, axes = _figure(7.5, 3.8)
    ordered = reasons.sort_values("customers")
    axes.barh(ordered["reason"], ordered["customers"], color=COLOURS["accent"])
    axes.set_xlabel("at-risk customers with this among their top three reasons")
    axes.tick_params(axis="y", labelsize=8)
    return _png(figure)


def revenue_by_segment(segments: pd.DataFrame) -> str:
    figure, axes = _figure(8.0, 0.9 * len(segments) + 1.0)
    ordered = segments.sort_values("monthly_revenue_at_risk")
    labels = [f"{s}. " + textwrap.fill(n, 40) for s, n in zip(ordered["segment"], ordered["segment_name"], strict=True)]
    axes.barh(labels, ordered["monthly_revenue_at_risk"], color=COLOURS["high"])
    axes.set_xlabel("monthly revenue at risk ($)")
    axes.tick_params(axis="y", labelsize=8)
    return _png(figure)


def newly_at_risk_by_week(by_week: pd.DataFrame) -> str:
    weekly = by_week.groupby("week")[["at_risk_customers", "newly_at_risk_customers"]].sum()
    figure, axes = _figure()
    x = weekly.index.astype(str)
    axes.bar(x, weekly["at_risk_customers"], color=COLOURS["medium"], label="at risk")
    axes.bar(x, weekly["newly_at_risk_customers"].fillna(0), color=COLOURS["high"], label="newly at risk")
    axes.set_ylabel("customers")
    axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(figure)


def build_report(warehouse: Warehouse) -> str:
    from retention.scoring.score import RiskBands

    risk = warehouse.dataframe("SELECT * FROM `{{ marts }}.customer_risk`", source="marts.customer_risk")
    if risk.empty:
        raise RuntimeError("marts.customer_risk is empty: run churn_weekly for a week first (make demo does)")
    by_week = warehouse.dataframe("SELECT * FROM `{{ marts }}.risk_by_segment_week` ORDER BY week",
                                  source="marts.risk_by_segment_week")
    segments = warehouse.dataframe("SELECT * FROM `{{ marts }}.revenue_at_risk_by_segment` ORDER BY segment",
                                   source="marts.revenue_at_risk_by_segment")
    performance = warehouse.dataframe("SELECT * FROM `{{ marts }}.model_performance` ORDER BY week",
                                      source="marts.model_performance")
    seniors = warehouse.dataframe(
        "SELECT * FROM `{{ marts }}.senior_watch_list` ORDER BY risk_rank LIMIT 15", source="marts.senior_watch_list"
    )
    reasons = warehouse.dataframe(
        "SELECT reason_text AS reason, COUNT(*) AS customers FROM `{{ marts }}.customer_risk` AS risk, "
        "UNNEST([risk.reason_1, risk.reason_2, risk.reason_3]) AS reason_text "
        "WHERE risk.at_risk AND reason_text IS NOT NULL GROUP BY reason_text",
        source="top reasons",
    )
    # "Months with us: 1", "Months with us: 2"... are one reason on the chart; categories stay apart.
    reasons["reason"] = reasons["reason"].str.replace(r": \$?[\d,.]+( GB)?$", "", regex=True)
    reasons = (reasons.groupby("reason", as_index=False)["customers"].sum()
               .sort_values(["customers", "reason"], ascending=[False, True]).head(12))
    bands = RiskBands.from_env()
    week = risk["week"].iloc[0]
    newly = risk["newly_at_risk"]
    newly_text = "none (first scored week: nothing to compare with)" if newly.isna().all() else f"{int(newly.sum()):,}"
    headline = {
        "Week": str(week), "Model": risk["model_version"].iloc[0], "Customers scored": f"{len(risk):,}",
        "At risk (high band)": f"{int(risk['at_risk'].sum()):,} ({risk['at_risk'].mean():.1%})",
        "Newly at risk": newly_text,
        "Monthly revenue at risk": f"${risk['monthly_revenue_at_risk'].sum():,.0f} of ${risk['monthly_charges'].sum():,.0f}",
        "Seniors (65+) at medium or high risk": f"{int((risk['age'] >= 65).mul(risk['risk_band'] != 'low').sum()):,}",
    }
    observed = observed_churn_by_age_band(by_week)
    sections = [
        ("This week", "".join(f"<div class='kpi'><span>{html.escape(k)}</span><b>{html.escape(v)}</b></div>"
                              for k, v in headline.items())),
        ("Risk distribution", f"<img alt='risk distribution' src='{risk_distribution(risk, (bands.watch, bands.at_risk))}'>"
         f"<p>Dashed lines: watch threshold {bands.watch} (medium) and at-risk threshold {bands.at_risk} (high).</p>"),
        ("At risk and newly at risk, by week", f"<img alt='newly at risk by week' src='{newly_at_risk_by_week(by_week)}'>"),
        ("Churn by age band", f"<img alt='churn by age band' src='{churn_by_age_band(by_week)}'>"
         + (f"<img alt='observed churn by age band' src='{observed}'>" if observed else
            "<p>Observed churn appears once the week after a scored week is published.</p>")),
        ("Top reasons among customers at risk", f"<img alt='top reasons' src='{top_reasons(reasons)}'>"
         "<p>From the models' own SHAP contributions; a reason counts when it pushes the risk up.</p>"),
        ("Revenue at risk by segment", f"<img alt='revenue at risk by segment' src='{revenue_by_segment(segments)}'>"
         + _table(segments[["segment", "segment_name", "customers", "at_risk_customers", "monthly_revenue_at_risk",
                            "share_of_revenue_at_risk", "top_reason_at_risk"]],
                  {"monthly_revenue_at_risk": "${:,.0f}", "share_of_revenue_at_risk": "{:.1%}"})),
        ("Model quality by version", _table(
            performance[["week", "model_version", "model_status", "cross_validated_roc_auc", "cross_validated_pr_auc",
                         "customers", "at_risk_customers", "observed_churn_rate_4_weeks", "at_risk_precision",
                         "observed_roc_auc"]],
            {"cross_validated_roc_auc": "{:.3f}", "cross_validated_pr_auc": "{:.3f}",
             "observed_churn_rate_4_weeks": "{:.1%}", "at_risk_precision": "{:.1%}", "observed_roc_auc": "{:.3f}"})
         + "<p>Observed columns fill in once the week four weeks later is published.</p>"),
        ("Senior watch list (top 15)", _table(
            seniors[["risk_rank", "customer_id", "age", "churn_probability", "risk_band", "newly_at_risk", "reason_1",
                     "district", "sms_allowed"]],
            {"churn_probability": "{:.2f}"})),
    ]
    body = "".join(f"<section><h2>{html.escape(title)}</h2>{content}</section>" for title, content in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Churn report, week {html.escape(str(week))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.15rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }}
.kpi {{ display: inline-block; margin: 0 1.5rem .8rem 0; }} .kpi span {{ display: block; color: #666; font-size: .8rem; }}
table {{ border-collapse: collapse; font-size: .8rem; margin-top: .5rem; }}
td, th {{ border-bottom: 1px solid #eee; padding: .25rem .5rem; text-align: left; }} img {{ max-width: 100%; }}
section {{ overflow-x: auto; }}
</style></head><body>
<h1>Churn and retention report, week of {html.escape(str(week))}</h1>
<p>Read from the <code>marts</code> tables of the warehouse ({html.escape(warehouse.settings.project)}), the same
tables the Looker Studio report reads. Synthetic data when run by <code>make demo</code>.</p>
{body}
</body></html>
"""


def write_report(warehouse: Warehouse, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(warehouse), encoding="utf-8")
    return path
