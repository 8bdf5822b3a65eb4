-- ops.alerts: every alert raised (a task that failed for good, a run past its deadline), with
-- where it went: email, webhook, or off (no alert connection configured: logged only). One
-- row per alert id (dag, run, task, try, kind), so a repeated callback records it once.
CREATE TABLE IF NOT EXISTS `{{ ops }}.alerts` (
  alert_id STRING NOT NULL,
  kind STRING NOT NULL OPTIONS(description = 'task_failed or deadline_missed.'),
  dag_id STRING NOT NULL,
  run_id STRING,
  task_id STRING,
  try_number INT64,
  message STRING NOT NULL,
  channel STRING NOT NULL OPTIONS(description = 'email, webhook or off.'),
  delivered BOOL NOT NULL OPTIONS(description = 'The channel accepted it (always false when off).'),
  delivery_error STRING,
  raised_at TIMESTAMP NOT NULL
)
PARTITION BY DATE(raised_at)
OPTIONS (description = 'Alerts raised by the DAGs and where they went. Written by the failure and deadline callbacks.')
