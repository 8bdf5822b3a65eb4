-- ops.task_runs: one row per finished task try of every DAG (success or failure), written by
-- the task callbacks every DAG sets (include/retention/operations/callbacks.py). The rows
-- read and written are the task's own counts where it has them (see ROW_COUNTS there).
CREATE TABLE IF NOT EXISTS `{{ ops }}.task_runs` (
  dag_id STRING NOT NULL,
  run_id STRING NOT NULL,
  run_type STRING OPTIONS(description = 'scheduled, manual, asset_triggered or backfill.'),
  logical_date TIMESTAMP OPTIONS(description = 'The run\'s logical date (NULL for asset-triggered runs).'),
  run_after TIMESTAMP OPTIONS(description = 'When the run was due: the logical date, or when the assets triggered it.'),
  task_id STRING NOT NULL,
  map_index INT64 NOT NULL,
  try_number INT64 NOT NULL,
  state STRING NOT NULL OPTIONS(description = 'success or failed (a try that will be retried is up_for_retry).'),
  started_at TIMESTAMP,
  ended_at TIMESTAMP NOT NULL,
  duration_seconds FLOAT64,
  rows_read INT64 OPTIONS(description = 'Rows the task read, where it counts them.'),
  rows_written INT64 OPTIONS(description = 'Rows the task wrote, where it counts them.'),
  error STRING OPTIONS(description = 'The exception of a failed try, first 1,000 characters.'),
  recorded_at TIMESTAMP NOT NULL
)
PARTITION BY DATE(ended_at)
CLUSTER BY dag_id, run_id
OPTIONS (description = 'Every finished task try of every DAG: duration, rows, outcome. Read through ops.run_audit.')
