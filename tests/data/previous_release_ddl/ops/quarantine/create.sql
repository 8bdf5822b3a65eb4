-- ops.quarantine: rows held back from core by a blocking row check, with the reasons and the
-- row as it was typed. The untouched text of every row stays in raw (same load_id, source_row).
CREATE TABLE IF NOT EXISTS `{{ ops }}.quarantine` (
  suite STRING NOT NULL,
  snapshot_date DATE NOT NULL,
  load_id STRING NOT NULL,
  source_uri STRING NOT NULL,
  source_row INT64 NOT NULL OPTIONS(description = 'Line of the file.'),
  reasons STRING NOT NULL OPTIONS(description = 'Every failed check of the row, separated by "; ".'),
  record STRING OPTIONS(description = 'The row as typed, JSON.'),
  quarantined_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
OPTIONS (description = 'Rows kept aside by data quality checks; see raw for the text as received.')
