-- marts.customer_risk: every active customer of the latest scored week, with their risk,
-- reasons, value and everything a marketer filters on. One row per customer.
CREATE OR REPLACE VIEW `{{ marts }}.customer_risk`
OPTIONS (description = 'Current churn risk per customer (latest scored week), with filters and reasons.')
AS
SELECT history.*
FROM `{{ marts }}.customer_risk_by_week` AS history
WHERE history.week = (SELECT MAX(latest.snapshot_date) FROM `{{ ml }}.churn_scores` AS latest)
