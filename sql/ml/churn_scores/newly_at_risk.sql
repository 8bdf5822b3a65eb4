-- Mark who is newly at risk in one scored week: at risk now and not at risk in the last
-- scored week before it (a customer absent then, a new one, counts as not at risk). With no
-- earlier scored week there is nothing to compare with: newly_at_risk and
-- previous_scored_week stay NULL (the first week is the baseline; nobody is "newly" at risk).
-- Run after publishing a week, and for the next scored week when a backfill filled an
-- earlier one. Parameter: @snapshot_date.
MERGE `{{ ml }}.churn_scores` AS target
USING (
  SELECT
    current_week.customer_id,
    earlier.week AS previous_scored_week,
    IF(earlier.week IS NULL, NULL, current_week.at_risk AND NOT COALESCE(previous.at_risk, FALSE)) AS newly_at_risk
  FROM `{{ ml }}.churn_scores` AS current_week
  CROSS JOIN (
    SELECT MAX(snapshot_date) AS week FROM `{{ ml }}.churn_scores` WHERE snapshot_date < @snapshot_date
  ) AS earlier
  LEFT JOIN `{{ ml }}.churn_scores` AS previous
    ON previous.snapshot_date = earlier.week AND previous.customer_id = current_week.customer_id
  WHERE current_week.snapshot_date = @snapshot_date
) AS compared
ON target.snapshot_date = @snapshot_date AND target.customer_id = compared.customer_id
WHEN MATCHED THEN
  UPDATE SET newly_at_risk = compared.newly_at_risk, previous_scored_week = compared.previous_scored_week
