-- Atomically replace this file's rows for the week with the freshly staged copy.
-- Parameters: @snapshot_date (the week), @load_id (the file's id). Identifiers filled by the
-- loader: the staging table it has just written, and the raw table's column list.
MERGE `{{ raw }}.telco_customer_snapshots` AS target
USING `{{ raw }}.{{ staging_table }}` AS staged
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target._snapshot_date = @snapshot_date AND target._load_id = @load_id THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT ({{ columns }})
  VALUES ({{ staged_columns }})
