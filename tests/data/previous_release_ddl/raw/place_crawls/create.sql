-- raw.place_crawls: every crawl of a places source exactly as the site showed it (or as the
-- bundled 2023 crawl has it), one row per result, one partition per crawl month. A re-run of
-- the same month replaces that source's rows of the month (places_refresh.scrape_*).
CREATE TABLE IF NOT EXISTS `{{ raw }}.place_crawls` (
  crawl_date DATE NOT NULL OPTIONS(description = 'First day of the month the crawl is for (the run\'s logical month, KST).'),
  source STRING NOT NULL OPTIONS(description = 'kt_store_finder or digital_learning_centers.'),
  crawl_id STRING NOT NULL OPTIONS(description = 'Source, month and a hash of the rows: the same results give the same id.'),
  origin STRING NOT NULL OPTIONS(description = 'live_scrape, or bundled_crawl (the 2023 crawl shipped with the project).'),
  base_url STRING OPTIONS(description = 'Page the scraper started from (NULL for the bundled crawl).'),
  crawled_at TIMESTAMP NOT NULL,
  source_row INT64 NOT NULL OPTIONS(description = 'Position of the result in the whole crawl, from 1.'),
  type_label STRING OPTIONS(description = 'Type as shown: [대리점], [플라자], [체험형 플라자], or 디지털 배움터.'),
  name STRING,
  address STRING,
  phone STRING,
  detail_url STRING,
  page INT64 OPTIONS(description = 'Result page the row was read from (NULL for the bundled crawl).'),
  position INT64,
  loaded_at TIMESTAMP NOT NULL
)
PARTITION BY crawl_date
CLUSTER BY source
OPTIONS (description = 'Places crawls as received, every month kept. Written by places_refresh.')
