-- One validated week of core.contacts: the typed rows of the landed file, less the rows
-- validation quarantined, with each number replaced by its key (contact/phone_numbers/add.sql
-- gave each one just before). The warehouse writes them into the week's partition
-- (Warehouse.publish_partition), replacing it in one atomic job.
-- Parameters: @snapshot_date, @load_id, @published_at.
SELECT
  typed.snapshot_date, typed.customer_id, numbers.phone_key, typed.sms_consent, typed.sms_consent_date,
  typed.night_consent, typed.opted_out, typed.opted_out_date, typed.home_dong_code, typed.home_dong_name,
  typed.home_district, typed.is_synthetic, typed.load_id, typed.source_uri, typed.source_row,
  @published_at AS published_at
FROM `{{ raw }}.contacts_typed` AS typed
LEFT JOIN `{{ ops }}.quarantine` AS quarantined
  ON quarantined.suite = 'contacts'
  AND quarantined.snapshot_date = @snapshot_date
  AND quarantined.load_id = @load_id
  AND quarantined.source_row = typed.source_row
-- One key per number (the smallest, should two runs at once ever have given it two).
JOIN (
  SELECT phone_numbers.phone_e164, MIN(phone_numbers.phone_key) AS phone_key
  FROM `{{ contact }}.phone_numbers` AS phone_numbers
  GROUP BY phone_numbers.phone_e164
) AS numbers
  ON numbers.phone_e164 = typed.phone_e164
WHERE typed.snapshot_date = @snapshot_date AND typed.load_id = @load_id AND quarantined.source_row IS NULL
