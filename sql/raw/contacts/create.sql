-- raw.contacts: every contacts file exactly as received, one row per data line, text only.
-- Same load columns as raw.telco_customer_snapshots (see there). Phone numbers as received:
-- each week's partition expires after 90 days (a week older than that cannot be re-published
-- from raw; its keys and flags stay in core.contacts, its numbers in contact.phone_numbers).
CREATE TABLE IF NOT EXISTS `{{ raw }}.contacts` (
  customer_id STRING,
  phone STRING,
  sms_consent STRING,
  sms_consent_date STRING,
  night_consent STRING,
  opted_out STRING,
  opted_out_date STRING,
  home_dong_code STRING,
  home_dong_name STRING,
  home_district STRING,
  synthetic STRING,
  _snapshot_date DATE NOT NULL,
  _load_id STRING NOT NULL,
  _source_uri STRING NOT NULL,
  _source_row INT64 NOT NULL,
  _loaded_at TIMESTAMP NOT NULL,
  _unexpected_columns STRING,
  _file_error STRING
)
PARTITION BY _snapshot_date
CLUSTER BY _load_id
-- Partitions expire after RETENTION_RAW_PARTITION_EXPIRATION_DAYS, and never later than 90 days here
-- (phone numbers), set through the API on every run of the DDL (retention/table_options.py),
-- so that existing tables get it too.
OPTIONS (description = 'Contacts files as received (phone numbers: each week expires after 90 days). Written by telco_ingest.land_contacts.')
