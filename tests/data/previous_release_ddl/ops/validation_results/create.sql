-- ops.validation_results: one row per check per validated file.
CREATE TABLE IF NOT EXISTS `{{ ops }}.validation_results` (
  suite STRING NOT NULL,
  snapshot_date DATE NOT NULL,
  load_id STRING NOT NULL,
  source_uri STRING NOT NULL,
  dag_run_id STRING,
  check_name STRING NOT NULL OPTIONS(description = 'Expectation type and its column, e.g. expect_column_values_to_be_unique(customer_id).'),
  description STRING NOT NULL OPTIONS(description = 'What the check protects, in words.'),
  blocking BOOL NOT NULL OPTIONS(description = 'A failure stops publishing (dataset checks) or quarantines the rows (row checks).'),
  row_level BOOL NOT NULL OPTIONS(description = 'The check judges single rows.'),
  success BOOL NOT NULL,
  observed_value STRING OPTIONS(description = 'What was measured, as text.'),
  unexpected_count INT64 OPTIONS(description = 'Rows that failed (row checks).'),
  unexpected_percent FLOAT64,
  sample STRING OPTIONS(description = 'First offending values with their file lines, as JSON.'),
  validated_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
OPTIONS (description = 'Every data quality check result, per file.')
