-- ops.validation_runs: one row per validated file: what was decided and why.
-- Written by quality.validate (telco_ingest.validate_snapshot); replaced when the same file is
-- validated again for the same week.
CREATE TABLE IF NOT EXISTS `{{ ops }}.validation_runs` (
  suite STRING NOT NULL OPTIONS(description = 'Suite name, e.g. telco_customers.'),
  snapshot_date DATE NOT NULL OPTIONS(description = 'Week the file is for.'),
  load_id STRING NOT NULL OPTIONS(description = 'The file (first 16 hex digits of its SHA-256).'),
  source_uri STRING NOT NULL OPTIONS(description = 'Where the file was read from.'),
  dag_run_id STRING OPTIONS(description = 'Airflow run that validated it.'),
  rows_received INT64 NOT NULL OPTIONS(description = 'Data rows in the file.'),
  rows_quarantined INT64 NOT NULL OPTIONS(description = 'Rows that failed a blocking row check (kept in ops.quarantine).'),
  quarantined_share FLOAT64 NOT NULL OPTIONS(description = 'rows_quarantined / rows_received.'),
  decision STRING NOT NULL OPTIONS(description = 'publish, publish_with_warnings or block.'),
  message STRING NOT NULL OPTIONS(description = 'Why, in words.'),
  validated_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
OPTIONS (description = 'Data quality decisions per file. Read by engineers and the data-quality Looker page.')
