-- core.places: 디지털 배움터 venues and KT stores in Seoul, geocoded, with history. Every
-- published crawl of a source is a version of its places: valid from the crawl's month until
-- the next published crawl of the same source (valid_to NULL: the current list).
-- Current places: WHERE valid_to IS NULL.
CREATE TABLE IF NOT EXISTS `{{ core }}.places` (
  place_id STRING NOT NULL OPTIONS(description = 'Stable key: source prefix and the place name as listed (kt:…, dlc:…); one venue id can serve two venues on the site.'),
  source STRING NOT NULL OPTIONS(description = 'kt_store_finder or digital_learning_centers.'),
  place_type STRING NOT NULL OPTIONS(description = 'kt_agency, kt_plaza, kt_experience_plaza or digital_learning_center.'),
  type_label STRING OPTIONS(description = 'Type as the site shows it ([대리점], [플라자], [체험형 플라자], 디지털 배움터).'),
  name STRING NOT NULL,
  address STRING NOT NULL OPTIONS(description = 'Address as the site shows it (KT lists may cut long ones with ...).'),
  address_normalised STRING NOT NULL OPTIONS(description = 'Address with 서울특별시 spelled one way.'),
  district STRING OPTIONS(description = 'District (구).'),
  district_code STRING OPTIONS(description = 'District code (SIG_CD, 5 digits).'),
  dong STRING OPTIONS(description = 'Legal dong (법정동), when the address names it.'),
  dong_code STRING OPTIONS(description = 'Legal dong code (EMD_CD, 8 digits).'),
  latitude FLOAT64 NOT NULL OPTIONS(description = 'WGS84 latitude; in Looker Studio set the type Geo > Latitude.'),
  longitude FLOAT64 NOT NULL OPTIONS(description = 'WGS84 longitude; in Looker Studio set the type Geo > Longitude.'),
  location STRING NOT NULL OPTIONS(description = '"latitude,longitude": one Geo > Latitude, Longitude field for a Looker Studio bubble map.'),
  geocode_precision STRING NOT NULL OPTIONS(description = 'address (online geocoder), dong (legal-dong centroid) or district (district centroid).'),
  geocode_method STRING NOT NULL OPTIONS(description = 'offline_polygons, or the online geocoder that resolved it.'),
  phone STRING OPTIONS(description = 'Phone as shown; NULL when the site gives none.'),
  detail_url STRING,
  origin STRING NOT NULL OPTIONS(description = 'live_scrape, or bundled_crawl (the 2023 crawl shipped with the project).'),
  crawl_date DATE NOT NULL OPTIONS(description = 'Month of the crawl this version comes from.'),
  crawl_id STRING NOT NULL,
  crawled_at TIMESTAMP NOT NULL,
  valid_from DATE NOT NULL OPTIONS(description = 'First day this version is the published one (its crawl month).'),
  valid_to DATE OPTIONS(description = 'Month of the next published crawl of the source; NULL for the current places.'),
  published_at TIMESTAMP NOT NULL
)
CLUSTER BY source, place_type
OPTIONS (description = 'Places the outreach points seniors to (디지털 배움터 venues, KT stores), geocoded, every published crawl kept. Written by places_refresh.')
