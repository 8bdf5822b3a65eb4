-- raw.places_prepared: a crawl's rows with the address normalised, district and legal dong
-- extracted and a position geocoded, before validation. One partition per crawl month; the
-- rows of one source and month are replaced together (places_refresh.validate_*).
CREATE TABLE IF NOT EXISTS `{{ raw }}.places_prepared` (
  crawl_date DATE NOT NULL,
  source STRING NOT NULL,
  crawl_id STRING NOT NULL,
  source_row INT64 NOT NULL,
  place_id STRING OPTIONS(description = 'Stable key: source prefix and the place name as listed (kt:…, dlc:…); one venue id can serve two venues on the site.'),
  duplicate_of_row INT64 OPTIONS(description = 'Set when the same place was already listed earlier in the crawl.'),
  out_of_area BOOL OPTIONS(description = 'The address names a city or province other than Seoul (the site listed it anyway).'),
  place_type STRING OPTIONS(description = 'kt_agency, kt_plaza, kt_experience_plaza or digital_learning_center.'),
  type_label STRING,
  name STRING,
  address STRING,
  address_normalised STRING,
  address_truncated BOOL,
  district STRING,
  district_code STRING,
  dong STRING,
  dong_code STRING,
  latitude FLOAT64,
  longitude FLOAT64,
  geocode_precision STRING,
  geocode_method STRING,
  phone STRING,
  detail_url STRING,
  origin STRING NOT NULL,
  crawled_at TIMESTAMP NOT NULL,
  prepared_at TIMESTAMP NOT NULL
)
PARTITION BY crawl_date
CLUSTER BY source
OPTIONS (description = 'Places crawls normalised and geocoded, awaiting validation. Written by places_refresh.')
