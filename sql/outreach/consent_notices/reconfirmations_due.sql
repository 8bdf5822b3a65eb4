-- Consents whose two-year anniversary is @lead_days or fewer ahead of @as_of (or has passed
-- without a notice: sent late, it restores the consent's standing), from the latest contacts on
-- or before @as_of: every customer whose consent stands to receive advertising, not only the
-- seniors of a campaign. Those already in outreach.consent_notices for that consent and
-- anniversary are left out, so a re-run finds nothing new.
-- Parameters: @as_of, @lead_days, @period_days, @contacts_week (the latest partition of
-- core.contacts on or before @as_of, from the partition list: a MAX subquery is not pruned).
-- The outbox gets the number's key (phone_key); the sender reads the number itself.
WITH
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
),
due AS (
  SELECT
    contact.customer_id,
    contact.phone_key,
    contact.sms_consent_date AS consent_date,
    -- (The sum in parentheses: the emulator reads DIV(a + b, c) as a + DIV(b, c).)
    DATE_ADD(contact.sms_consent_date, INTERVAL
      DIV((DATE_DIFF(@as_of, contact.sms_consent_date, DAY) + @lead_days), @period_days) * @period_days DAY) AS anniversary
  FROM `{{ core }}.contacts` AS contact
  LEFT JOIN unsubscribed ON unsubscribed.customer_id = contact.customer_id
  WHERE contact.snapshot_date = @contacts_week
    AND contact.sms_consent AND NOT contact.opted_out AND unsubscribed.customer_id IS NULL
    AND contact.sms_consent_date IS NOT NULL
    AND DATE_DIFF(@as_of, contact.sms_consent_date, DAY) + @lead_days >= @period_days
)
SELECT due.*
FROM due
LEFT JOIN `{{ outreach }}.consent_notices` AS notices
  ON notices.customer_id = due.customer_id AND notices.notice_kind = 'consent_reconfirmation'
  AND notices.consent_date = due.consent_date AND notices.anniversary = due.anniversary
WHERE notices.customer_id IS NULL
ORDER BY due.customer_id
