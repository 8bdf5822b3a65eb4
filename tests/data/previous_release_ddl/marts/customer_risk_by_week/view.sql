-- marts.customer_risk_by_week: every scored customer of every scored week, with their risk,
-- reasons, value and everything a marketer filters on. One row per customer and week; the
-- other customer marts read it, so a rule such as the age bands lives here only.
CREATE OR REPLACE VIEW `{{ marts }}.customer_risk_by_week`
OPTIONS (description = 'Churn risk per customer and scored week, with filters and reasons.')
AS
SELECT
  scores.snapshot_date AS week,
  scores.customer_id,
  scores.churn_probability,
  scores.risk_band,
  scores.at_risk,
  scores.newly_at_risk,
  scores.risk_rank,
  scores.risk_percentile,
  scores.reason_1,
  scores.reason_2,
  scores.reason_3,
  scores.segment,
  scores.segment_name,
  scores.predicted_cltv,
  scores.monthly_charges,
  scores.monthly_revenue_at_risk,
  customers.age,
  CASE
    WHEN customers.age IS NULL THEN 'unknown'
    WHEN customers.age < 35 THEN '19-34'
    WHEN customers.age < 50 THEN '35-49'
    WHEN customers.age < 65 THEN '50-64'
    ELSE '65+'
  END AS age_band,
  customers.senior_citizen AS senior,
  customers.gender,
  customers.tenure_months,
  customers.contract,
  customers.internet_service,
  customers.payment_method,
  contacts.home_district AS district,
  contacts.home_dong_name AS legal_dong,
  COALESCE(contacts.sms_consent AND NOT contacts.opted_out, FALSE) AS sms_allowed,
  scores.model_version
FROM `{{ ml }}.churn_scores` AS scores
JOIN `{{ core }}.customers` AS customers
  ON customers.snapshot_date = scores.snapshot_date AND customers.customer_id = scores.customer_id
LEFT JOIN `{{ core }}.contacts` AS contacts
  ON contacts.snapshot_date = scores.snapshot_date AND contacts.customer_id = scores.customer_id
