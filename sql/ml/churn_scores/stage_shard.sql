-- Replace one shard's rows in the week's shard staging table by what this attempt of
-- score_customers scored (one mapped task per shard). One MERGE, so it is atomic: a re-run of
-- one shard never touches the rows of the others, and an attempt that fails before this
-- statement leaves the shard's last complete rows. Rows staged under another shard count (an
-- older plan of the same week) go too: publish_scores reads one plan's shards only.
-- Parameters: @shard (this shard's number), @shards (the week's shard count).
MERGE `{{ ml }}.{{ staging }}` AS target
USING `{{ ml }}.{{ attempt }}` AS attempt
ON FALSE
WHEN NOT MATCHED BY SOURCE AND (target.shard = @shard OR target.shards != @shards) THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT ({{ columns }}) VALUES ({{ attempt_columns }})
