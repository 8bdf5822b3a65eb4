-- marts.customer_risk: every active customer of the latest scored week, with their risk,
-- reasons, value and everything a marketer filters on. One row per customer. @latest_week: the
-- newest scored week (from the partition list of ml.churn_scores).
SELECT history.*
FROM `{{ marts }}.customer_risk_by_week` AS history
WHERE history.week = @latest_week
