-- Publish one validated week to core.contacts: the typed rows of the landed file, less the
-- rows validation quarantined, replace the week's partition in one statement.
-- Parameters: @snapshot_date, @load_id, @published_at.
MERGE `{{ core }}.contacts` AS target
USING (
  SELECT
    typed.snapshot_date, typed.customer_id, typed.phone_e164, typed.sms_consent, typed.sms_consent_date,
    typed.night_consent, typed.opted_out, typed.opted_out_date, typed.home_dong_code, typed.home_dong_name,
    typed.home_district, typed.is_synthetic, typed.load_id, typed.source_uri, typed.source_row,
    @published_at AS published_at
  FROM `{{ raw }}.contacts_typed` AS typed
  LEFT JOIN `{{ ops }}.quarantine` AS quarantined
    ON quarantined.suite = 'contacts'
    AND quarantined.snapshot_date = @snapshot_date
    AND quarantined.load_id = @load_id
    AND quarantined.source_row = typed.source_row
  WHERE typed.snapshot_date = @snapshot_date AND typed.load_id = @load_id AND quarantined.source_row IS NULL
) AS cleaned
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, phone_e164, sms_consent, sms_consent_date, night_consent, opted_out,
          opted_out_date, home_dong_code, home_dong_name, home_district, is_synthetic, load_id, source_uri,
          source_row, published_at)
  VALUES (cleaned.snapshot_date, cleaned.customer_id, cleaned.phone_e164, cleaned.sms_consent,
          cleaned.sms_consent_date, cleaned.night_consent, cleaned.opted_out, cleaned.opted_out_date,
          cleaned.home_dong_code, cleaned.home_dong_name, cleaned.home_district, cleaned.is_synthetic,
          cleaned.load_id, cleaned.source_uri, cleaned.source_row, cleaned.published_at)
