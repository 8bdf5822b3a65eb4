-- The strata of the labelled weeks: rows per (label, senior flag), four rows whatever N is.
-- training_sample.py allocates the cap over them; query.sql then draws that many per stratum.
-- Parameters: @weeks (ARRAY<DATE>), @horizon_weeks.
SELECT churn_label, senior_citizen, COUNT(*) AS population_rows
FROM (
  SELECT labels.left_within_horizon AS churn_label, IFNULL(features.senior_citizen, FALSE) AS senior_citizen
  FROM `{{ ml }}.churn_features` AS features
  JOIN `{{ ml }}.churn_labels` AS labels USING (snapshot_date, customer_id)
  WHERE features.snapshot_date IN UNNEST(@weeks) AND labels.snapshot_date IN UNNEST(@weeks)
    AND labels.horizon_weeks = @horizon_weeks
)
GROUP BY churn_label, senior_citizen
ORDER BY churn_label, senior_citizen
