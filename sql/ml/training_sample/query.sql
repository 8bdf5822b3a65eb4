-- A stratified, seeded sample of the labelled weeks, drawn in the warehouse: within each
-- stratum (label x senior flag) the rows are ranked by a fingerprint of customer, week and
-- seed, and the first @quota_<stratum> are kept. Same seed and data, same rows, on any engine.
-- sample_weight = stratum rows / rows kept from it: the population each sampled row stands
-- for, so calibration and metrics can be read for all customers, not for the sample.
-- Parameters: @weeks (ARRAY<DATE>), @horizon_weeks, @seed, @quota_stayed, @quota_stayed_senior,
-- @quota_left, @quota_left_senior.
SELECT
  * EXCEPT (stratum_rank, stratum_rows, quota),
  CAST(stratum_rows AS FLOAT64) / LEAST(quota, stratum_rows) AS sample_weight
FROM (
  SELECT
    features.* REPLACE (labels.left_within_horizon AS churn_label),
    ROW_NUMBER() OVER (
      PARTITION BY labels.left_within_horizon, IFNULL(features.senior_citizen, FALSE)
      ORDER BY FARM_FINGERPRINT(CONCAT(features.customer_id, '|', CAST(features.snapshot_date AS STRING), '|',
                                       CAST(@seed AS STRING))),
               features.customer_id, features.snapshot_date
    ) AS stratum_rank,
    COUNT(*) OVER (PARTITION BY labels.left_within_horizon, IFNULL(features.senior_citizen, FALSE)) AS stratum_rows,
    CASE
      WHEN labels.left_within_horizon AND IFNULL(features.senior_citizen, FALSE) THEN @quota_left_senior
      WHEN labels.left_within_horizon THEN @quota_left
      WHEN IFNULL(features.senior_citizen, FALSE) THEN @quota_stayed_senior
      ELSE @quota_stayed
    END AS quota
  FROM `{{ ml }}.churn_features` AS features
  JOIN `{{ ml }}.churn_labels` AS labels USING (snapshot_date, customer_id)
  WHERE features.snapshot_date IN UNNEST(@weeks) AND labels.snapshot_date IN UNNEST(@weeks)
    AND labels.horizon_weeks = @horizon_weeks
)
WHERE stratum_rank <= quota
ORDER BY snapshot_date, customer_id
