-- The columns file sources (RETENTION_KT_STORES_SOURCE, RETENTION_LEARNING_CENTERS_SOURCE) added
-- to the places tables: landed file, decoding, header, extra columns and the line's error.
-- Warehouses created before them (the release of 6fee732 and earlier) lack them. Descriptions
-- as in each table's create.sql.
ALTER TABLE `{{ raw }}.place_crawls` ADD COLUMN IF NOT EXISTS source_uri STRING OPTIONS(description = 'The file the rows came from (origin owner_file).');
ALTER TABLE `{{ raw }}.place_crawls` ADD COLUMN IF NOT EXISTS file_encoding STRING OPTIONS(description = 'How the file was decoded: utf-8, utf-8-sig (byte order mark), euc-kr, or cp949 (uses syllables only CP949 has).');
ALTER TABLE `{{ raw }}.place_crawls` ADD COLUMN IF NOT EXISTS file_header STRING OPTIONS(description = 'The header line as received (JSON list).');
ALTER TABLE `{{ raw }}.place_crawls` ADD COLUMN IF NOT EXISTS extra_columns STRING OPTIONS(description = 'Columns of the file the platform does not read, by header (JSON); never published.');
ALTER TABLE `{{ raw }}.place_crawls` ADD COLUMN IF NOT EXISTS file_error STRING OPTIONS(description = 'Set when the line has more or fewer fields than the header.');
ALTER TABLE `{{ raw }}.places_prepared` ADD COLUMN IF NOT EXISTS source_uri STRING OPTIONS(description = 'The file the place came from, or the start page of the scrape.');
ALTER TABLE `{{ raw }}.places_prepared` ADD COLUMN IF NOT EXISTS file_error STRING OPTIONS(description = 'Set when the file line has more or fewer fields than the header.');
ALTER TABLE `{{ core }}.places` ADD COLUMN IF NOT EXISTS source_uri STRING OPTIONS(description = 'The file this version came from (origin owner_file), or the start page of the scrape; NULL for the bundled crawl.');
