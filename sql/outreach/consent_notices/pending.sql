-- One notice campaign's notices not sent yet (queued, or in sending), with what is true now,
-- for send_pending (outbox.py) with advertising=False: no consent check, never at night
-- (latest_night_consent is always FALSE: night-time consent is for advertising), and withheld
-- only when the notice is moot or would reach the wrong person:
-- - a re-confirmation whose consent is gone (opted out, withdrawn: the result notice of that
--   request tells them) or was given anew since (consent_changed: a new two-year count);
-- - any notice whose customer has no contact record any more or a new number (the old one may
--   be someone else's now): the marts then show the notice as unanswered.
-- - any notice whose number was erased from contact.phone_numbers (number_erased).
-- The number to send to (phone_e164) is read from contact.phone_numbers by the outbox's key, as
-- in messages/pending.sql; numbers are compared, not keys (two keys may name one number).
-- Parameters: @campaign_id, @contacts_week (the latest partition of core.contacts, from the
-- partition list: a MAX subquery is not pruned).
WITH
latest_contact AS (
  SELECT contacts.customer_id, numbers.phone_e164, contacts.sms_consent, contacts.sms_consent_date, contacts.opted_out
  FROM `{{ core }}.contacts` AS contacts
  LEFT JOIN `{{ contact }}.phone_numbers` AS numbers ON numbers.phone_key = contacts.phone_key
  WHERE contacts.snapshot_date = @contacts_week
),
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
)
SELECT
  outbox.*,
  messaged.phone_e164,
  CASE
    WHEN messaged.phone_e164 IS NULL THEN 'number_erased'
    WHEN contact.customer_id IS NULL THEN 'no_contact_record'
    WHEN contact.phone_e164 IS NULL OR contact.phone_e164 != messaged.phone_e164 THEN 'number_changed'
    WHEN notices.notice_kind = 'consent_reconfirmation'
      AND (unsubscribed.customer_id IS NOT NULL OR contact.opted_out OR NOT contact.sms_consent) THEN 'opted_out_before_send'
    WHEN notices.notice_kind = 'consent_reconfirmation'
      AND COALESCE(contact.sms_consent_date, DATE '1900-01-01') != COALESCE(notices.consent_date, DATE '1900-01-01')
      THEN 'consent_changed'
  END AS withheld_reason,
  contact.sms_consent_date AS latest_consent_date,
  FALSE AS latest_night_consent
FROM `{{ outreach }}.messages` AS outbox
JOIN `{{ outreach }}.consent_notices` AS notices
  ON notices.campaign_id = outbox.campaign_id AND notices.customer_id = outbox.customer_id
LEFT JOIN latest_contact AS contact ON contact.customer_id = outbox.customer_id
LEFT JOIN `{{ contact }}.phone_numbers` AS messaged ON messaged.phone_key = outbox.phone_key
LEFT JOIN unsubscribed ON unsubscribed.customer_id = outbox.customer_id
WHERE outbox.campaign_id = @campaign_id AND outbox.state IN ('queued', 'sending')
ORDER BY outbox.not_before, outbox.customer_id
