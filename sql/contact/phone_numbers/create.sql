-- contact.phone_numbers: the one place phone numbers live. One row per number ever received,
-- with the key every other table holds instead of the number (core.contacts, outreach.messages,
-- outreach.opt_outs). The dataset is readable only by the outreach service account (README,
-- "Deployment": the grants by role); raw.contacts, the files as received, expires.
-- The key is random (GENERATE_UUID), never a hash of the number: there are only 10^8 Korean
-- mobile numbers, so a hash is reversed by hashing them all; a random key only through here.
CREATE TABLE IF NOT EXISTS `{{ contact }}.phone_numbers` (
  phone_key STRING NOT NULL OPTIONS(description = 'Random key of the number: what every other table holds.'),
  phone_e164 STRING NOT NULL OPTIONS(description = 'Korean mobile number, E.164 (+8210 and 8 digits). Personal data.'),
  first_seen_date DATE NOT NULL OPTIONS(description = 'Week of the first contacts file that had the number.'),
  first_seen_load_id STRING NOT NULL,
  added_at TIMESTAMP NOT NULL
)
CLUSTER BY phone_e164
OPTIONS (description = 'Phone numbers and their keys: the only table with phone numbers (raw.contacts expires). Readable by the outreach service account only. Written by telco_ingest.publish_contacts.')
