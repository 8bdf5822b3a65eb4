-- ops.schema_migrations: every migration of sql/migrations/ applied to this warehouse, once
-- each (include/retention/migrations). A migration whose file changed after it was applied
-- (another checksum) stops every DAG until the file is restored: applied migrations are never
-- edited, a new one is added instead.
CREATE TABLE IF NOT EXISTS `{{ ops }}.schema_migrations` (
  version INT64 NOT NULL OPTIONS(description = 'The NNNN of sql/migrations/NNNN_<name>.sql.'),
  name STRING NOT NULL OPTIONS(description = 'The <name> of the file.'),
  checksum STRING NOT NULL OPTIONS(description = 'SHA-256 of the file as applied (line endings normalised).'),
  applied_at TIMESTAMP NOT NULL,
  applied_by STRING OPTIONS(description = 'What applied it: the command, or the DAG task that ran first after the release.'),
  statements INT64 OPTIONS(description = 'Statements run; those on a table not created yet are skipped (its DDL has the change).')
)
OPTIONS (description = 'Schema migrations applied to this warehouse: version, name, checksum, when. Written by retention.migrations.')
