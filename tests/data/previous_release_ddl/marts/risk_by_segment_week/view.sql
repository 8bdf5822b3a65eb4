-- marts.risk_by_segment_week: churn risk and observed churn by week, segment and age band.
-- Observed churn: customers of the week who are absent from the next published week (known
-- once that week is published; empty for the latest week; a quarantined row is not absent).
CREATE OR REPLACE VIEW `{{ marts }}.risk_by_segment_week`
OPTIONS (description = 'Risk and observed weekly churn by week, segment and age band.')
AS
WITH weeks AS (
  SELECT DISTINCT published.snapshot_date FROM `{{ core }}.customers` AS published
),
scored AS (
  SELECT
    history.week AS snapshot_date,
    history.segment,
    history.segment_name,
    history.churn_probability,
    history.at_risk,
    history.newly_at_risk,
    history.monthly_revenue_at_risk,
    history.age_band,
    next_week.snapshot_date IS NOT NULL AS next_week_known,
    later.customer_id IS NULL AS left_by_next_week
  FROM `{{ marts }}.customer_risk_by_week` AS history
  LEFT JOIN weeks AS next_week
    ON next_week.snapshot_date = DATE_ADD(history.week, INTERVAL 7 DAY)
  LEFT JOIN `{{ core }}.customer_presence` AS later
    ON later.snapshot_date = DATE_ADD(history.week, INTERVAL 7 DAY) AND later.customer_id = history.customer_id
)
SELECT
  scored.snapshot_date AS week,
  scored.segment,
  scored.segment_name,
  scored.age_band,
  COUNT(*) AS customers,
  COUNTIF(scored.at_risk) AS at_risk_customers,
  IF(COUNT(scored.newly_at_risk) = 0, NULL, COUNTIF(scored.newly_at_risk)) AS newly_at_risk_customers,
  AVG(scored.churn_probability) AS average_churn_probability,
  SUM(scored.monthly_revenue_at_risk) AS monthly_revenue_at_risk,
  IF(LOGICAL_AND(scored.next_week_known), COUNTIF(scored.left_by_next_week), NULL) AS left_by_next_week,
  IF(LOGICAL_AND(scored.next_week_known), COUNTIF(scored.left_by_next_week) / COUNT(*), NULL) AS weekly_churn_rate
FROM scored
GROUP BY scored.snapshot_date, scored.segment, scored.segment_name, scored.age_band
