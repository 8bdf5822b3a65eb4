-- raw.contacts: every contacts file exactly as received, one row per data line, text only.
-- Same load columns as raw.telco_customer_snapshots (see there).
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
OPTIONS (description = 'Contacts files as received, every distinct file kept. Written by telco_ingest.land_contacts.')
