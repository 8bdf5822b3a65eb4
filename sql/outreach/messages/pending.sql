-- The campaign's messages not sent yet (queued, or in sending), with what is true now: the
-- number to send to (phone_e164, from contact.phone_numbers: the outbox holds its key only),
-- the latest published contact (consent, its date, night-time consent, opt-out, number), the
-- provider's unsubscribes (of the customer, or of the number whoever holds it), whether the customer is still a customer (in the latest published
-- week of core.customer_presence, quarantined rows included: a row that failed a check has not
-- left), and the customer's group in the week that queued the message. The sender withholds a
-- message whose customer opted out, left the operator, withdrew consent, changed number or is
-- no longer in the message group since it was queued: one reason per cause.
-- Parameters: @campaign_id, @contacts_week and @customers_week (the latest partitions of
-- core.contacts and core.customers, from the partition list: a MAX subquery is not pruned).
WITH
latest_contact AS (
  SELECT contacts.customer_id, numbers.phone_e164, contacts.sms_consent, contacts.sms_consent_date,
    contacts.night_consent, contacts.opted_out
  FROM `{{ core }}.contacts` AS contacts
  LEFT JOIN `{{ contact }}.phone_numbers` AS numbers ON numbers.phone_key = contacts.phone_key
  WHERE contacts.snapshot_date = @contacts_week
),
reconfirmed AS (
  -- The latest anniversary of each consent whose re-confirmation notice went out (consent_standing.py).
  SELECT notices.customer_id, notices.consent_date, MAX(notices.anniversary) AS anniversary
  FROM `{{ outreach }}.consent_notices` AS notices
  JOIN `{{ outreach }}.messages` AS notice
    ON notice.campaign_id = notices.campaign_id AND notice.customer_id = notices.customer_id
  WHERE notices.notice_kind = 'consent_reconfirmation' AND notice.state IN ('sent', 'delivered')
  GROUP BY notices.customer_id, notices.consent_date
),
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
),
unsubscribed_numbers AS (
  SELECT DISTINCT numbers.phone_e164
  FROM `{{ outreach }}.opt_outs` AS opt_outs
  JOIN `{{ contact }}.phone_numbers` AS numbers ON numbers.phone_key = opt_outs.phone_key
),
latest_customers AS (
  SELECT presence.customer_id
  FROM `{{ core }}.customer_presence` AS presence
  WHERE presence.snapshot_date = @customers_week
)
SELECT
  outbox.*,
  messaged.phone_e164,
  CASE
    WHEN unsubscribed.customer_id IS NOT NULL OR contact.opted_out OR unsubscribed_number.phone_e164 IS NOT NULL
      THEN 'opted_out_before_send'
    -- The number was erased from contact.phone_numbers (a deletion request): nothing to send to.
    WHEN messaged.phone_e164 IS NULL THEN 'number_erased'
    -- (Only when a week is published at all: an empty presence must not close every message.)
    WHEN still_customer.customer_id IS NULL AND (SELECT COUNT(*) FROM latest_customers) > 0 THEN 'no_longer_customer'
    WHEN contact.customer_id IS NULL THEN 'no_contact_record'
    WHEN NOT contact.sms_consent THEN 'consent_withdrawn'
    WHEN contact.phone_e164 != messaged.phone_e164 THEN 'number_changed'
    WHEN audience.campaign_group IS NULL OR audience.campaign_group != 'message' THEN 'not_in_message_group'
  END AS withheld_reason,
  contact.sms_consent_date AS latest_consent_date,
  COALESCE(contact.night_consent, FALSE) AS latest_night_consent,
  reconfirmed.anniversary AS latest_reconfirmed_anniversary
FROM `{{ outreach }}.messages` AS outbox
LEFT JOIN latest_contact AS contact ON contact.customer_id = outbox.customer_id
LEFT JOIN `{{ contact }}.phone_numbers` AS messaged ON messaged.phone_key = outbox.phone_key
LEFT JOIN unsubscribed ON unsubscribed.customer_id = outbox.customer_id
LEFT JOIN unsubscribed_numbers AS unsubscribed_number ON unsubscribed_number.phone_e164 = messaged.phone_e164
LEFT JOIN reconfirmed ON reconfirmed.customer_id = outbox.customer_id AND reconfirmed.consent_date = contact.sms_consent_date
LEFT JOIN latest_customers AS still_customer ON still_customer.customer_id = outbox.customer_id
LEFT JOIN `{{ outreach }}.campaign_audience` AS audience
  ON audience.campaign_id = outbox.campaign_id AND audience.customer_id = outbox.customer_id
  AND audience.snapshot_date = outbox.snapshot_date
WHERE outbox.campaign_id = @campaign_id AND outbox.state IN ('queued', 'sending')
ORDER BY outbox.not_before, outbox.customer_id
