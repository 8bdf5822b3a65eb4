-- One scored week of ml.churn_scores from its shard staging table (each shard's rows staged by
-- its score_customers task, checked complete before this runs): rank, percentile and risk band
-- need the whole week, so they are computed here, in the warehouse. Written into the week's
-- partition by Warehouse.publish_partition (one atomic job); newly_at_risk is filled by
-- newly_at_risk.sql afterwards.
-- Parameters: @snapshot_date, @watch and @at_risk (thresholds), @scored_at.
SELECT
  staged.snapshot_date,
  staged.customer_id,
  staged.model_version,
  staged.churn_probability,
  CASE
    WHEN staged.churn_probability >= @at_risk THEN 'high'
    WHEN staged.churn_probability >= @watch THEN 'medium'
    ELSE 'low'
  END AS risk_band,
  staged.churn_probability >= @at_risk AS at_risk,
  RANK() OVER (ORDER BY staged.churn_probability DESC) AS risk_rank,
  ROUND(100 * PERCENT_RANK() OVER (ORDER BY staged.churn_probability), 2) AS risk_percentile,
  staged.reason_1,
  staged.reason_2,
  staged.reason_3,
  staged.segment,
  staged.segment_name,
  staged.predicted_cltv,
  staged.monthly_charges,
  staged.monthly_revenue_at_risk,
  CAST(NULL AS BOOL) AS newly_at_risk,
  CAST(NULL AS DATE) AS previous_scored_week,
  @at_risk AS at_risk_threshold,
  @scored_at AS scored_at
FROM `{{ ml }}.{{ staging }}` AS staged
WHERE staged.snapshot_date = @snapshot_date
