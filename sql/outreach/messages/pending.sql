-- The campaign's messages not sent yet (queued, or in sending), with what is true now: the
-- latest published contact (consent, its date, night-time consent, opt-out, number), the
-- provider's unsubscribes, whether the customer is still a customer (in the latest published
-- week of core.customer_presence, quarantined rows included: a row that failed a check has not
-- left), and the customer's group in the week that queued the message. The sender withholds a
-- message whose customer opted out, left the operator, withdrew consent, changed number or is
-- no longer in the message group since it was queued: one reason per cause.
-- Parameters: @campaign_id.
WITH
latest_contact AS (
  SELECT contacts.customer_id, contacts.phone_e164, contacts.sms_consent, contacts.sms_consent_date,
    contacts.night_consent, contacts.opted_out
  FROM `{{ core }}.contacts` AS contacts
  WHERE contacts.snapshot_date = (SELECT MAX(snapshot_date) FROM `{{ core }}.contacts`)
),
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
),
latest_customers AS (
  SELECT presence.customer_id
  FROM `{{ core }}.customer_presence` AS presence
  WHERE presence.snapshot_date = (SELECT MAX(snapshot_date) FROM `{{ core }}.customer_presence`)
)
SELECT
  outbox.*,
  CASE
    WHEN unsubscribed.customer_id IS NOT NULL OR contact.opted_out THEN 'opted_out_before_send'
    -- (Only when a week is published at all: an empty presence must not close every message.)
    WHEN still_customer.customer_id IS NULL AND (SELECT COUNT(*) FROM latest_customers) > 0 THEN 'no_longer_customer'
    WHEN contact.customer_id IS NULL THEN 'no_contact_record'
    WHEN NOT contact.sms_consent THEN 'consent_withdrawn'
    WHEN contact.phone_e164 != outbox.phone_e164 THEN 'number_changed'
    WHEN audience.campaign_group IS NULL OR audience.campaign_group != 'message' THEN 'not_in_message_group'
  END AS withheld_reason,
  contact.sms_consent_date AS latest_consent_date,
  COALESCE(contact.night_consent, FALSE) AS latest_night_consent
FROM `{{ outreach }}.messages` AS outbox
LEFT JOIN latest_contact AS contact ON contact.customer_id = outbox.customer_id
LEFT JOIN unsubscribed ON unsubscribed.customer_id = outbox.customer_id
LEFT JOIN latest_customers AS still_customer ON still_customer.customer_id = outbox.customer_id
LEFT JOIN `{{ outreach }}.campaign_audience` AS audience
  ON audience.campaign_id = outbox.campaign_id AND audience.customer_id = outbox.customer_id
  AND audience.snapshot_date = outbox.snapshot_date
WHERE outbox.campaign_id = @campaign_id AND outbox.state IN ('queued', 'sending')
ORDER BY outbox.not_before, outbox.customer_id
