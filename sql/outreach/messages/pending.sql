-- The campaign's messages not sent yet (queued, or in sending), with what is true now: the
-- latest published contact (consent, its date, night-time consent, opt-out, number), the
-- provider's unsubscribes, and the customer's group in the week that queued the message. The
-- sender withholds a message whose customer opted out, withdrew consent, changed number or is
-- no longer in the message group since it was queued.
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
)
SELECT
  outbox.*,
  CASE
    WHEN unsubscribed.customer_id IS NOT NULL OR contact.opted_out THEN 'opted_out_before_send'
    WHEN contact.customer_id IS NULL OR NOT contact.sms_consent THEN 'consent_withdrawn'
    WHEN contact.phone_e164 != outbox.phone_e164 THEN 'number_changed'
    WHEN audience.campaign_group IS NULL OR audience.campaign_group != 'message' THEN 'not_in_message_group'
  END AS withheld_reason,
  contact.sms_consent_date AS latest_consent_date,
  COALESCE(contact.night_consent, FALSE) AS latest_night_consent
FROM `{{ outreach }}.messages` AS outbox
LEFT JOIN latest_contact AS contact ON contact.customer_id = outbox.customer_id
LEFT JOIN unsubscribed ON unsubscribed.customer_id = outbox.customer_id
LEFT JOIN `{{ outreach }}.campaign_audience` AS audience
  ON audience.campaign_id = outbox.campaign_id AND audience.customer_id = outbox.customer_id
  AND audience.snapshot_date = outbox.snapshot_date
WHERE outbox.campaign_id = @campaign_id AND outbox.state IN ('queued', 'sending')
ORDER BY outbox.not_before, outbox.customer_id
