-- raw.contacts_typed: landed contacts, typed, not yet validated. Read by validate_contacts and
-- publish_contacts. Phone numbers are normalised to E.164: spaces, dashes, dots and brackets
-- go; a leading 0 (010-1234-5678) becomes +82. Only Korean mobile numbers (+82 10 and eight
-- digits) are accepted; anything else is named in parse_errors (without the number: it is
-- personal data) and the row is quarantined.
CREATE OR REPLACE VIEW `{{ raw }}.contacts_typed` AS
WITH cleaned AS (
  SELECT
    landed._snapshot_date AS snapshot_date,
    NULLIF(TRIM(landed.customer_id), '') AS customer_id,
    REGEXP_REPLACE(TRIM(landed.phone), r'[ ().-]', '') AS phone_digits,
    landed.phone AS raw_phone,
    CASE UPPER(TRIM(landed.sms_consent)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS sms_consent,
    SAFE_CAST(NULLIF(TRIM(landed.sms_consent_date), '') AS DATE) AS sms_consent_date,
    CASE UPPER(TRIM(landed.night_consent)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS night_consent,
    CASE UPPER(TRIM(landed.opted_out)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS opted_out,
    SAFE_CAST(NULLIF(TRIM(landed.opted_out_date), '') AS DATE) AS opted_out_date,
    NULLIF(TRIM(landed.home_dong_code), '') AS home_dong_code,
    NULLIF(TRIM(landed.home_dong_name), '') AS home_dong_name,
    NULLIF(TRIM(landed.home_district), '') AS home_district,
    COALESCE(CASE LOWER(TRIM(landed.synthetic)) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END, FALSE) AS is_synthetic,
    landed._load_id AS load_id,
    landed._source_uri AS source_uri,
    landed._source_row AS source_row,
    landed._file_error AS file_error,
    landed.sms_consent AS raw_sms_consent,
    landed.sms_consent_date AS raw_sms_consent_date,
    landed.night_consent AS raw_night_consent,
    landed.opted_out AS raw_opted_out,
    landed.opted_out_date AS raw_opted_out_date
  FROM `{{ raw }}.contacts` AS landed
),
normalised AS (
  SELECT
    *,
    CASE
      WHEN STARTS_WITH(phone_digits, '+82') THEN phone_digits
      WHEN STARTS_WITH(phone_digits, '0') THEN CONCAT('+82', SUBSTR(phone_digits, 2))
      ELSE phone_digits
    END AS phone_candidate
  FROM cleaned
)
SELECT
  snapshot_date,
  customer_id,
  IF(REGEXP_CONTAINS(phone_candidate, r'^[+]8210[0-9]{8}$'), phone_candidate, NULL) AS phone_e164,
  sms_consent,
  sms_consent_date,
  night_consent,
  opted_out,
  opted_out_date,
  home_dong_code,
  home_dong_name,
  home_district,
  is_synthetic,
  load_id,
  source_uri,
  source_row,
  file_error,
  NULLIF(
    CONCAT(
      -- The number itself is personal data: the reason says what is wrong, never the value.
      IF(REGEXP_CONTAINS(COALESCE(phone_candidate, ''), r'^[+]8210[0-9]{8}$'), '',
         CONCAT('phone (', CAST(LENGTH(COALESCE(raw_phone, '')) AS STRING),
                ' characters, value withheld) is not a Korean mobile number (+82 10 and 8 digits); ')),
      IF(NULLIF(TRIM(raw_sms_consent), '') IS NOT NULL AND sms_consent IS NULL,
         CONCAT('sms_consent="', raw_sms_consent, '" is not Yes or No; '), ''),
      IF(NULLIF(TRIM(raw_sms_consent_date), '') IS NOT NULL AND sms_consent_date IS NULL,
         CONCAT('sms_consent_date="', raw_sms_consent_date, '" is not a date; '), ''),
      IF(NULLIF(TRIM(raw_night_consent), '') IS NOT NULL AND night_consent IS NULL,
         CONCAT('night_consent="', raw_night_consent, '" is not Yes or No; '), ''),
      IF(NULLIF(TRIM(raw_opted_out), '') IS NOT NULL AND opted_out IS NULL,
         CONCAT('opted_out="', raw_opted_out, '" is not Yes or No; '), ''),
      IF(NULLIF(TRIM(raw_opted_out_date), '') IS NOT NULL AND opted_out_date IS NULL,
         CONCAT('opted_out_date="', raw_opted_out_date, '" is not a date; '), ''),
      IF(sms_consent AND sms_consent_date IS NULL, 'sms_consent is Yes without its date; ', ''),
      IF(opted_out AND opted_out_date IS NULL, 'opted_out is Yes without its date; ', '')
    ),
    ''
  ) AS parse_errors
FROM normalised
