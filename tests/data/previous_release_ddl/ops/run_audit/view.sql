-- ops.run_audit: one row per DAG run, from its task tries in ops.task_runs: when it ran, how
-- long, rows read and written, how many tasks failed, retried or succeeded, and its outcome
-- (failed when any task's last try failed; incomplete while a task's last recorded try is a
-- retry: still running, or its worker was lost). logical_date is NULL for asset-triggered
-- runs: run_after says when they ran.
CREATE OR REPLACE VIEW `{{ ops }}.run_audit`
OPTIONS (description = 'Run-level audit: DAG, logical date, duration, rows read and written, outcome.')
AS
WITH last_tries AS (
  SELECT
    runs.*,
    ROW_NUMBER() OVER (PARTITION BY runs.dag_id, runs.run_id, runs.task_id, runs.map_index
                       ORDER BY runs.try_number DESC) AS newest
  FROM `{{ ops }}.task_runs` AS runs
)
SELECT
  last_tries.dag_id,
  last_tries.run_id,
  ANY_VALUE(last_tries.run_type) AS run_type,
  ANY_VALUE(last_tries.logical_date) AS logical_date,
  ANY_VALUE(last_tries.run_after) AS run_after,
  MIN(last_tries.started_at) AS started_at,
  MAX(last_tries.ended_at) AS ended_at,
  TIMESTAMP_DIFF(MAX(last_tries.ended_at), MIN(last_tries.started_at), MILLISECOND) / 1000 AS duration_seconds,
  COUNTIF(last_tries.newest = 1) AS tasks,
  COUNTIF(last_tries.newest = 1 AND last_tries.state = 'failed') AS tasks_failed,
  COUNTIF(last_tries.newest > 1) AS retried_tries,
  SUM(IF(last_tries.newest = 1, last_tries.rows_read, NULL)) AS rows_read,
  SUM(IF(last_tries.newest = 1, last_tries.rows_written, NULL)) AS rows_written,
  CASE
    WHEN COUNTIF(last_tries.newest = 1 AND last_tries.state = 'failed') > 0 THEN 'failed'
    WHEN COUNTIF(last_tries.newest = 1 AND last_tries.state = 'up_for_retry') > 0 THEN 'incomplete'
    ELSE 'success'
  END AS outcome
FROM last_tries
GROUP BY last_tries.dag_id, last_tries.run_id
