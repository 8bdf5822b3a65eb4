-- The campaign's messages not sent yet (queued, or left in sending by an attempt that did not
-- finish), with what the latest published contact and the provider's unsubscribes say now: a
-- customer who opted out or withdrew consent since the message was queued is not messaged.
-- Parameters: @campaign_id.
WITH
latest_contact AS (
  SELECT contacts.customer_id, contacts.phone_e164, contacts.sms_consent, contacts.opted_out
  FROM `{{ core }}.contacts` AS contacts
  WHERE contacts.snapshot_date = (SELECT MAX(snapshot_date) FROM `{{ core }}.contacts`)
),
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
)
SELECT
  outbox.*,
  CASE
    WHEN unsubscribed.customer_id IS NOT NULL OR contact.opted_out THEN 'opted_out_before_send'
    WHEN contact.customer_id IS NULL OR NOT contact.sms_consent THEN 'consent_withdrawn'
    WHEN contact.phone_e164 != outbox.phone_e164 THEN 'number_changed'
  END AS withheld_reason
FROM `{{ outreach }}.messages` AS outbox
LEFT JOIN latest_contact AS contact ON contact.customer_id = outbox.customer_id
LEFT JOIN unsubscribed ON unsubscribed.customer_id = outbox.customer_id
WHERE outbox.campaign_id = @campaign_id AND outbox.state IN ('queued', 'sending')
ORDER BY outbox.not_before, outbox.customer_id
