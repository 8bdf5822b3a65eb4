-- core.geocode_cache: addresses an online geocoder resolved, so each is asked once. Used only
-- when a geocoder key is configured (README, "Places"). Keyed by the normalised address.
CREATE TABLE IF NOT EXISTS `{{ core }}.geocode_cache` (
  address_normalised STRING NOT NULL,
  latitude FLOAT64,
  longitude FLOAT64,
  precision STRING NOT NULL OPTIONS(description = 'address, dong, district or none (the geocoder found nothing).'),
  method STRING NOT NULL OPTIONS(description = 'The geocoder that answered, e.g. kakao_local.'),
  district_code STRING,
  dong_code STRING,
  resolved_at TIMESTAMP NOT NULL
)
CLUSTER BY address_normalised
OPTIONS (description = 'Online geocoding results by address, so each address is resolved once. Written by places_refresh.')
