-- outreach.opt_outs: customers who unsubscribed through the SMS provider (replied STOP, Twilio
-- error 21610) and so must never be messaged again, whatever core.contacts says until the
-- contact system catches up. One row per customer, inserted once.
CREATE TABLE IF NOT EXISTS `{{ outreach }}.opt_outs` (
  customer_id STRING NOT NULL,
  phone_e164 STRING NOT NULL,
  source STRING NOT NULL OPTIONS(description = 'How we learnt it: e.g. twilio_21610.'),
  campaign_id STRING OPTIONS(description = 'Campaign whose message revealed it.'),
  recorded_at TIMESTAMP NOT NULL
)
OPTIONS (description = 'Unsubscribes learnt from the SMS provider: never message these customers. Written by senior_outreach.')
