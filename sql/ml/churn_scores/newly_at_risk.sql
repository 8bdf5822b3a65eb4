-- Mark who is newly at risk in one scored week: at risk now and not at risk in @previous_week,
-- the last scored week before it (a customer absent then, a new one, counts as not at risk).
-- With no earlier scored week there is nothing to compare with and this is not run:
-- newly_at_risk and previous_scored_week stay NULL (the first week is the baseline).
-- Run after publishing a week, and for the next scored week when a backfill filled an
-- earlier one. Parameters: @snapshot_date, @previous_week (found from the partition list, so
-- that every read here filters its partitions with a parameter).
MERGE `{{ ml }}.churn_scores` AS target
USING (
  SELECT
    current_week.customer_id,
    @previous_week AS previous_scored_week,
    current_week.at_risk AND NOT COALESCE(previous.at_risk, FALSE) AS newly_at_risk
  FROM `{{ ml }}.churn_scores` AS current_week
  LEFT JOIN `{{ ml }}.churn_scores` AS previous
    ON previous.snapshot_date = @previous_week AND previous.customer_id = current_week.customer_id
  WHERE current_week.snapshot_date = @snapshot_date
) AS compared
ON target.snapshot_date = @snapshot_date AND target.customer_id = compared.customer_id
WHEN MATCHED THEN
  UPDATE SET newly_at_risk = compared.newly_at_risk, previous_scored_week = compared.previous_scored_week
