-- Keep what an online geocoder answered: one row per normalised address, the newest answer
-- wins. {{ staged }} is a staging table in core with the cache's columns (places_refresh.validate_*).
MERGE `{{ core }}.geocode_cache` AS target
USING `{{ core }}.{{ staged }}` AS staged
ON target.address_normalised = staged.address_normalised
WHEN MATCHED THEN
  UPDATE SET latitude = staged.latitude, longitude = staged.longitude, precision = staged.precision,
    method = staged.method, district_code = staged.district_code, dong_code = staged.dong_code,
    resolved_at = staged.resolved_at
WHEN NOT MATCHED THEN
  INSERT (address_normalised, latitude, longitude, precision, method, district_code, dong_code, resolved_at)
  VALUES (staged.address_normalised, staged.latitude, staged.longitude, staged.precision, staged.method,
          staged.district_code, staged.dong_code, staged.resolved_at)
