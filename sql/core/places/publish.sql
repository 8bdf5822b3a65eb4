-- Publish one validated crawl of one source to core.places, in one statement:
--   * the crawl's own rows (a re-run of the month) are replaced;
--   * the source's earlier versions still valid at @crawl_date now end there;
--   * the new rows are valid until the source's next published crawl (a backfill of an older
--     month), given as @next_crawl_date (9999-12-31 when there is none: valid_to NULL).
-- Left out: quarantined rows, later duplicates of a place within the crawl, and places the
-- site listed whose address is in another city or province (out_of_area).
-- Parameters: @source, @crawl_date, @crawl_id, @next_crawl_date, @published_at.
MERGE `{{ core }}.places` AS target
USING (
  SELECT
    prepared.place_id, prepared.source, prepared.place_type, prepared.type_label, prepared.name, prepared.address,
    prepared.address_normalised, prepared.district, prepared.district_code, prepared.dong, prepared.dong_code,
    prepared.latitude, prepared.longitude,
    CONCAT(FORMAT('%.6f', prepared.latitude), ',', FORMAT('%.6f', prepared.longitude)) AS location,
    prepared.geocode_precision, prepared.geocode_method, prepared.phone, prepared.detail_url, prepared.origin,
    prepared.crawl_date, prepared.crawl_id, prepared.crawled_at, prepared.source_uri
  FROM `{{ raw }}.places_prepared` AS prepared
  LEFT JOIN `{{ ops }}.quarantine` AS quarantined
    ON quarantined.suite = 'places'
    AND quarantined.snapshot_date = @crawl_date
    AND quarantined.load_id = @crawl_id
    AND quarantined.source_row = prepared.source_row
  WHERE prepared.crawl_date = @crawl_date AND prepared.source = @source AND prepared.crawl_id = @crawl_id
    AND prepared.duplicate_of_row IS NULL AND NOT prepared.out_of_area AND quarantined.source_row IS NULL
) AS cleaned
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.source = @source AND target.crawl_date = @crawl_date THEN
  DELETE
WHEN NOT MATCHED BY SOURCE AND target.source = @source AND target.crawl_date < @crawl_date
  AND (target.valid_to IS NULL OR target.valid_to > @crawl_date) THEN
  UPDATE SET valid_to = @crawl_date
WHEN NOT MATCHED THEN
  INSERT (place_id, source, place_type, type_label, name, address, address_normalised, district, district_code,
          dong, dong_code, latitude, longitude, location, geocode_precision, geocode_method, phone, detail_url,
          origin, crawl_date, crawl_id, crawled_at, valid_from, valid_to, published_at, source_uri)
  VALUES (cleaned.place_id, cleaned.source, cleaned.place_type, cleaned.type_label, cleaned.name, cleaned.address,
          cleaned.address_normalised, cleaned.district, cleaned.district_code, cleaned.dong, cleaned.dong_code,
          cleaned.latitude, cleaned.longitude, cleaned.location, cleaned.geocode_precision, cleaned.geocode_method,
          cleaned.phone, cleaned.detail_url, cleaned.origin, cleaned.crawl_date, cleaned.crawl_id,
          cleaned.crawled_at, cleaned.crawl_date, NULLIF(@next_crawl_date, DATE '9999-12-31'), @published_at,
          cleaned.source_uri)
