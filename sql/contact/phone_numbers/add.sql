-- Give every number of one validated contacts file a key, before the file is published to
-- core.contacts (which holds the key only): the rows publish_contacts will publish, numbers
-- not seen before. Insert-only on the number, so a re-run or a backfill keeps every key.
-- Parameters: @snapshot_date, @load_id, @published_at.
MERGE `{{ contact }}.phone_numbers` AS target
USING (
  SELECT DISTINCT typed.phone_e164
  FROM `{{ raw }}.contacts_typed` AS typed
  LEFT JOIN `{{ ops }}.quarantine` AS quarantined
    ON quarantined.suite = 'contacts'
    AND quarantined.snapshot_date = @snapshot_date
    AND quarantined.load_id = @load_id
    AND quarantined.source_row = typed.source_row
  WHERE typed.snapshot_date = @snapshot_date AND typed.load_id = @load_id AND quarantined.source_row IS NULL
    AND typed.phone_e164 IS NOT NULL
) AS received
ON target.phone_e164 = received.phone_e164
WHEN NOT MATCHED THEN
  INSERT (phone_key, phone_e164, first_seen_date, first_seen_load_id, added_at)
  VALUES (GENERATE_UUID(), received.phone_e164, @snapshot_date, @load_id, @published_at)
