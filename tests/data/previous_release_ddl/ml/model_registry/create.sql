-- ml.model_registry: one row per training run, whatever it became; the promotion decision and
-- its reason are kept with it. At most one row has status 'champion'.
CREATE TABLE IF NOT EXISTS `{{ ml }}.model_registry` (
  model_version STRING NOT NULL OPTIONS(description = 'churn-<trained UTC time>-<artifact hash prefix>.'),
  trained_at TIMESTAMP NOT NULL,
  data_snapshot DATE NOT NULL OPTIONS(description = 'Week of ml.churn_features the model was trained on.'),
  training_rows INT64 NOT NULL,
  features STRING NOT NULL OPTIONS(description = 'JSON list of feature columns.'),
  parameters STRING NOT NULL OPTIONS(description = 'JSON: ensemble members, their settings and weights, calibration.'),
  metrics STRING NOT NULL OPTIONS(description = 'JSON: cross-validated metrics (mean, std), overall and for seniors.'),
  roc_auc FLOAT64 NOT NULL OPTIONS(description = 'Cross-validated ROC AUC of the calibrated ensemble.'),
  pr_auc FLOAT64 NOT NULL OPTIONS(description = 'Cross-validated PR AUC of the calibrated ensemble.'),
  artifact_uri STRING NOT NULL,
  artifact_sha256 STRING NOT NULL OPTIONS(description = 'Scoring refuses an artifact whose bytes do not match.'),
  status STRING NOT NULL OPTIONS(description = 'champion, retired (a former champion) or rejected.'),
  decision STRING NOT NULL OPTIONS(description = 'Why it was promoted or not, in words.')
)
OPTIONS (description = 'Every churn model trained, its evaluation and the promotion decision.')
