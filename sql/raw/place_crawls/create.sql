-- raw.place_crawls: every crawl of a places source exactly as the site showed it (or as the
-- bundled 2023 crawl has it, or as the owner's file had it: one row per data line, values as
-- received), one row per result, one partition per crawl month. A re-run of the same month
-- replaces that crawl's rows (places_refresh.land_*).
CREATE TABLE IF NOT EXISTS `{{ raw }}.place_crawls` (
  crawl_date DATE NOT NULL OPTIONS(description = 'First day of the month the crawl is for (the run\'s logical month, KST).'),
  source STRING NOT NULL OPTIONS(description = 'kt_store_finder or digital_learning_centers.'),
  crawl_id STRING NOT NULL OPTIONS(description = 'Source, month and a hash of the rows: the same results give the same id.'),
  origin STRING NOT NULL OPTIONS(description = 'live_scrape, owner_file (the month\'s file from KT or the programme), or bundled_crawl (the 2023 crawl shipped with the project).'),
  base_url STRING OPTIONS(description = 'Page the scraper started from (NULL for the bundled crawl).'),
  crawled_at TIMESTAMP NOT NULL,
  source_row INT64 NOT NULL OPTIONS(description = 'Position of the result in the whole crawl, from 1; for a file, its line in the file (the header is line 1).'),
  type_label STRING OPTIONS(description = 'Type as shown: [대리점], [플라자], [체험형 플라자], or 디지털 배움터.'),
  name STRING,
  address STRING,
  phone STRING,
  detail_url STRING,
  page INT64 OPTIONS(description = 'Result page the row was read from (NULL for the bundled crawl).'),
  position INT64,
  loaded_at TIMESTAMP NOT NULL,
  source_uri STRING OPTIONS(description = 'The file the rows came from (origin owner_file).'),
  file_encoding STRING OPTIONS(description = 'How the file was decoded: utf-8, utf-8-sig (byte order mark), euc-kr, or cp949 (uses syllables only CP949 has).'),
  file_header STRING OPTIONS(description = 'The header line as received (JSON list).'),
  extra_columns STRING OPTIONS(description = 'Columns of the file the platform does not read, by header (JSON); never published.'),
  file_error STRING OPTIONS(description = 'Set when the line has more or fewer fields than the header.')
)
PARTITION BY crawl_date
CLUSTER BY source
-- Partitions expire after RETENTION_RAW_PARTITION_EXPIRATION_DAYS (default 400), set through the API
-- on every run of the DDL (retention/table_options.py), so that existing tables get it too.
OPTIONS (description = 'Places crawls as received, every month kept. Written by places_refresh.')
