-- outreach.consent_notices: every informational notice the Network Act makes the sender owe a
-- recipient, one row per notice, inserted once (consent_notices DAG): the two-year consent
-- re-confirmation (art. 50(8)) and the result of a consent, opt-out or withdrawal (art. 50(7),
-- within 14 days). The notice itself is a row of the outbox outreach.messages with the same
-- (campaign_id, customer_id); its state there says whether it went out.
CREATE TABLE IF NOT EXISTS `{{ outreach }}.consent_notices` (
  campaign_id STRING NOT NULL OPTIONS(description = 'Outbox key with customer_id: notice:<kind>:<anniversary or request date>.'),
  customer_id STRING NOT NULL,
  notice_kind STRING NOT NULL OPTIONS(description = 'consent_reconfirmation, or the request answered: opt_out, consent_withdrawn, consent.'),
  request_source STRING OPTIONS(description = 'Where the request was learnt: contacts (the contacts file: 080 line, shop, app) or the provider (twilio_21610...). NULL for a re-confirmation.'),
  consent_date DATE OPTIONS(description = 'The consent the notice is about (its date as the contacts give it).'),
  anniversary DATE OPTIONS(description = 'Re-confirmation: the two-year anniversary the notice is for.'),
  requested_on DATE OPTIONS(description = 'Request: the day the recipient asked, as far as known.'),
  processed_on DATE NOT NULL OPTIONS(description = 'The day the platform recorded it: the contacts week, or the report of the provider.'),
  due_by DATE NOT NULL OPTIONS(description = 'Latest lawful day for the notice: the anniversary, or 14 days after the request.'),
  alert_from DATE NOT NULL OPTIONS(description = 'An unanswered notice is an ops alert from this day (day 10 of 14; 4 days before an anniversary).'),
  detected_at TIMESTAMP NOT NULL,
  detected_by_run STRING NOT NULL
)
-- Not partitioned: every reader needs the whole ledger (a notice already queued, the latest
-- re-confirmation sent, the notices still open), and it is one row per notice (about the customer
-- base every two years, plus the requests): clustered instead, like contact.phone_numbers.
CLUSTER BY notice_kind, customer_id
OPTIONS (description = 'Notices owed under Network Act art. 50(7) and 50(8), one per anniversary or request. Written by consent_notices.')
