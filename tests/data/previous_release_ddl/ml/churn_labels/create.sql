-- ml.churn_labels: for each customer of a weekly snapshot, whether they left within the
-- horizon, known only once the snapshot @horizon_weeks later is published. Training on
-- history joins these to ml.churn_features of the same week: features from week w, label
-- from week w + horizon, so no feature ever sees the future.
CREATE TABLE IF NOT EXISTS `{{ ml }}.churn_labels` (
  snapshot_date DATE NOT NULL OPTIONS(description = 'Week of the features the label belongs to.'),
  customer_id STRING NOT NULL,
  horizon_weeks INT64 NOT NULL,
  left_within_horizon BOOL NOT NULL OPTIONS(description = 'Present in snapshot_date, absent horizon_weeks later.'),
  labelled_from DATE NOT NULL OPTIONS(description = 'The later week the label was read from.')
)
PARTITION BY snapshot_date
OPTIONS (description = 'Churn labels from later weeks. Written by churn training.')
