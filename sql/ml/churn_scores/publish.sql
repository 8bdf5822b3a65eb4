-- Publish one scored week to ml.churn_scores from its shard staging table (each shard's rows
-- staged by its score_customers task, checked complete before this runs): rank, percentile
-- and risk band need the whole week, so they are computed here, in the warehouse.
-- newly_at_risk is filled by newly_at_risk.sql afterwards.
-- Parameters: @snapshot_date, @watch and @at_risk (thresholds), @scored_at.
MERGE `{{ ml }}.churn_scores` AS target
USING (
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
    @at_risk AS at_risk_threshold,
    @scored_at AS scored_at
  FROM `{{ ml }}.{{ staging }}` AS staged
  WHERE staged.snapshot_date = @snapshot_date
) AS scored
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, model_version, churn_probability, risk_band, at_risk, risk_rank, risk_percentile,
          reason_1, reason_2, reason_3, segment, segment_name, predicted_cltv, monthly_charges,
          monthly_revenue_at_risk, newly_at_risk, previous_scored_week, at_risk_threshold, scored_at)
  VALUES (scored.snapshot_date, scored.customer_id, scored.model_version, scored.churn_probability, scored.risk_band,
          scored.at_risk, scored.risk_rank, scored.risk_percentile, scored.reason_1, scored.reason_2, scored.reason_3,
          scored.segment, scored.segment_name, scored.predicted_cltv, scored.monthly_charges,
          scored.monthly_revenue_at_risk, NULL, NULL, scored.at_risk_threshold, scored.scored_at)
