-- marts.revenue_at_risk_by_segment: the latest scored week, per behaviour segment: how much
-- monthly revenue and lifetime value are at risk, and the most common reason.
WITH latest AS (
  SELECT scores.*
  FROM `{{ ml }}.churn_scores` AS scores
  WHERE scores.snapshot_date = @latest_week
),
reasons AS (
  SELECT
    latest.segment,
    latest.reason_1 AS reason,
    ROW_NUMBER() OVER (PARTITION BY latest.segment ORDER BY COUNT(*) DESC, latest.reason_1) AS position
  FROM latest
  WHERE latest.at_risk AND latest.reason_1 IS NOT NULL
  GROUP BY latest.segment, latest.reason_1
)
SELECT
  latest.snapshot_date AS week,
  latest.segment,
  latest.segment_name,
  COUNT(*) AS customers,
  COUNTIF(latest.at_risk) AS at_risk_customers,
  SUM(latest.monthly_charges) AS monthly_revenue,
  SUM(latest.monthly_revenue_at_risk) AS monthly_revenue_at_risk,
  SAFE_DIVIDE(SUM(latest.monthly_revenue_at_risk), SUM(latest.monthly_charges)) AS share_of_revenue_at_risk,
  SUM(latest.churn_probability * latest.predicted_cltv) AS lifetime_value_at_risk,
  ANY_VALUE(top_reason.reason) AS top_reason_at_risk
FROM latest
LEFT JOIN reasons AS top_reason
  ON top_reason.segment = latest.segment AND top_reason.position = 1
GROUP BY latest.snapshot_date, latest.segment, latest.segment_name
