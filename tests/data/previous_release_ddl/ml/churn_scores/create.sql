-- ml.churn_scores: one row per active customer per scored week, from the champion model.
-- Written by churn_weekly (score_customers, then publish_scores); read by the marts and by
-- senior_outreach (newly at risk). One partition per week, replaced as a whole.
CREATE TABLE IF NOT EXISTS `{{ ml }}.churn_scores` (
  snapshot_date DATE NOT NULL OPTIONS(description = 'Week (Monday) of the customer snapshot scored.'),
  customer_id STRING NOT NULL,
  model_version STRING NOT NULL OPTIONS(description = 'Champion model that scored the week (ml.model_registry).'),
  churn_probability FLOAT64 NOT NULL OPTIONS(description = 'Calibrated probability of leaving (see the model\'s label).'),
  risk_band STRING NOT NULL OPTIONS(description = 'high (>= at-risk threshold), medium (>= watch threshold) or low.'),
  at_risk BOOL NOT NULL OPTIONS(description = 'In the high band this week.'),
  risk_rank INT64 NOT NULL OPTIONS(description = '1 = the customer most likely to leave this week.'),
  risk_percentile FLOAT64 NOT NULL OPTIONS(description = '0-100: share of the week\'s customers with a lower probability.'),
  reason_1 STRING OPTIONS(description = 'Strongest reason pushing the risk up (SHAP), for medium and high bands.'),
  reason_2 STRING OPTIONS(description = 'Second reason, if it pushes the risk up.'),
  reason_3 STRING OPTIONS(description = 'Third reason, if it pushes the risk up.'),
  segment INT64 NOT NULL OPTIONS(description = 'Behaviour segment (k-means) number, 1 = newest customers.'),
  segment_name STRING NOT NULL OPTIONS(description = 'The segment described in words.'),
  predicted_cltv FLOAT64 OPTIONS(description = 'Predicted customer lifetime value (IBM CLTV scale).'),
  monthly_charges FLOAT64 OPTIONS(description = 'Monthly charge this week.'),
  monthly_revenue_at_risk FLOAT64 OPTIONS(description = 'churn_probability x monthly charge.'),
  newly_at_risk BOOL OPTIONS(description = 'At risk now and not at risk in the previous scored week; NULL in the first scored week.'),
  previous_scored_week DATE OPTIONS(description = 'The week compared with for newly_at_risk; NULL in the first scored week.'),
  at_risk_threshold FLOAT64 NOT NULL OPTIONS(description = 'RETENTION_AT_RISK_THRESHOLD when the week was scored.'),
  scored_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
CLUSTER BY risk_band, customer_id
OPTIONS (description = 'Weekly churn scores with reasons, segment, CLTV and revenue at risk.')
