-- outreach.messages: the outbox. One row per (campaign, customer), ever: that key is what
-- makes "at most one message per campaign" hold across re-runs, retries and backfills.
-- States: queued -> sending -> sent -> delivered | undelivered | failed; or skipped (reason).
-- A row is inserted once (queue_messages, insert-only) and only moves forward (send_messages,
-- check_delivery); a final state never changes. No phone number here: phone_key names the
-- number messaged in contact.phone_numbers (the one place numbers live; outreach only).
CREATE TABLE IF NOT EXISTS `{{ outreach }}.messages` (
  campaign_id STRING NOT NULL,
  customer_id STRING NOT NULL,
  snapshot_date DATE NOT NULL OPTIONS(description = 'Scored week that queued the message.'),
  state STRING NOT NULL OPTIONS(description = 'queued, sending, sent, delivered, undelivered, failed or skipped.'),
  reason STRING OPTIONS(description = 'Why skipped, undelivered or failed: e.g. unsubscribed, invalid_number, cannot_receive_sms, opted_out_before_send, expired.'),
  phone_key STRING NOT NULL OPTIONS(description = 'Key of the number messaged, in contact.phone_numbers.'),
  night_consent BOOL NOT NULL,
  body STRING NOT NULL,
  encoding STRING NOT NULL,
  segments INT64 NOT NULL,
  dropped_parts STRING OPTIONS(description = 'Optional parts of the template dropped to fit the segment limit.'),
  venue_place_id STRING NOT NULL,
  venue_distance_km FLOAT64 NOT NULL,
  venue_geocode_precision STRING NOT NULL,
  plaza_place_id STRING NOT NULL,
  plaza_distance_km FLOAT64 NOT NULL,
  plaza_geocode_precision STRING NOT NULL OPTIONS(description = 'district: the distance is to the district centroid (docs/places_geocoding.md).'),
  not_before TIMESTAMP NOT NULL OPTIONS(description = 'Not sent before this time: 08:00 KST when queued in the quiet hours without night consent.'),
  transport STRING OPTIONS(description = 'twilio or local_sink.'),
  simulated BOOL OPTIONS(description = 'Written to the local sink, not sent to anyone.'),
  provider_message_id STRING,
  attempt_started_at TIMESTAMP OPTIONS(description = 'When the last send attempt began: a message left in sending is reconciled with the provider from this time.'),
  claim_id STRING OPTIONS(description = 'The send attempt that holds the row (a lease of RETENTION_OUTREACH_SENDING_LEASE_SECONDS from attempt_started_at): only its holder may record the outcome.'),
  attempts INT64 NOT NULL,
  error_code INT64,
  error_message STRING,
  queued_at TIMESTAMP NOT NULL,
  queued_by_run STRING NOT NULL OPTIONS(description = 'Airflow run that queued the message.'),
  sent_at TIMESTAMP,
  final_at TIMESTAMP OPTIONS(description = 'When delivered, undelivered, failed or skipped was recorded.'),
  updated_at TIMESTAMP NOT NULL
)
CLUSTER BY campaign_id, state
OPTIONS (description = 'SMS outbox: one row per campaign and customer, its state and delivery. Written by senior_outreach.')
