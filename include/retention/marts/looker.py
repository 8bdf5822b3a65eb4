"""A Looker Studio Linking API URL that creates the recommended report on your own marts.

Format (Looker Studio Linking API, https://developers.google.com/looker-studio/integrate/linking-api):
`https://lookerstudio.google.com/reporting/create?` + `c.reportId` (the template to copy; a
blank report without one), `r.reportName`, and for each data source alias
`ds.<alias>.connector=bigQuery`, `.type=TABLE`, `.projectId`, `.datasetId`, `.tableId`
(`.billingProjectId` when the jobs are billed elsewhere). The template's data sources must
carry the aliases below (README, "Looker Studio"). Without a template the URL makes a report
on `marts.customer_risk` alone; add the other marts with *Add data*.
"""

from __future__ import annotations

from urllib.parse import urlencode

CREATE = "https://lookerstudio.google.com/reporting/create"
ALIASES = {
    "ds0": "customer_risk", "ds1": "risk_by_segment_week", "ds2": "revenue_at_risk_by_segment",
    "ds3": "model_performance", "ds4": "senior_watch_list", "ds5": "customer_risk_by_week",
    "ds6": "campaign_results", "ds7": "consent_notices",
}
"""Alias of each data source in the template report -> the mart it reads."""


def linking_url(
    project: str,
    dataset: str,
    *,
    template_report_id: str | None = None,
    report_name: str = "Telco churn and retention",
    billing_project: str | None = None,
) -> str:
    params: list[tuple[str, str]] = []
    if template_report_id:
        params.append(("c.reportId", template_report_id))
    params.append(("r.reportName", report_name))
    aliases = ALIASES if template_report_id else {"ds0": ALIASES["ds0"]}
    for alias, mart in aliases.items():
        params += [
            (f"ds.{alias}.connector", "bigQuery"),
            (f"ds.{alias}.type", "TABLE"),
            (f"ds.{alias}.projectId", project),
            (f"ds.{alias}.datasetId", dataset),
            (f"ds.{alias}.tableId", mart),
            (f"ds.{alias}.datasourceName", f"{dataset}.{mart}"),
        ]
        if billing_project:
            params.append((f"ds.{alias}.billingProjectId", billing_project))
    return f"{CREATE}?{urlencode(params)}"
