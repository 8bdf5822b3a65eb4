-- The audience of one scored week, before the rules: every customer aged 65 or more who is
-- newly at risk in ml.churn_scores, with their contact as published that week (the latest
-- core.contacts on or before it) and what the campaigns already did with them: in this
-- campaign in an earlier week, and the last message any campaign sent them (this campaign's
-- earlier weeks, other campaigns' at any time). Unsubscribes learnt from the provider always
-- count, for the customer and for the number (whoever holds it now). The number itself comes
-- from contact.phone_numbers (outreach only), for the Korean-mobile rule. Decisions are
-- recorded once (insert-only), so a re-run never changes them.
-- Parameters: @snapshot_date, @campaign_id, @contacts_week (the latest core.contacts partition
-- on or before @snapshot_date, from the partition list: a MAX subquery would not be pruned).
WITH
contact AS (
  SELECT contacts.*, numbers.phone_e164
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
campaign_members AS (
  SELECT customer_id FROM `{{ outreach }}.campaign_audience`
  WHERE campaign_id = @campaign_id AND campaign_group IS NOT NULL AND snapshot_date < @snapshot_date
  UNION DISTINCT
  SELECT customer_id FROM `{{ outreach }}.messages`
  WHERE campaign_id = @campaign_id AND snapshot_date < @snapshot_date
),
last_sent AS (
  SELECT customer_id, MAX(sent_at) AS last_sent_at
  FROM `{{ outreach }}.messages`
  WHERE sent_at IS NOT NULL AND (campaign_id != @campaign_id OR snapshot_date < @snapshot_date)
    AND NOT STARTS_WITH(campaign_id, 'notice:')  -- informational notices are not a campaign's message
  GROUP BY customer_id
)
SELECT
  scores.customer_id,
  scores.churn_probability,
  customer.age,
  contact.phone_e164,
  contact.sms_consent,
  contact.sms_consent_date,
  COALESCE(contact.night_consent, FALSE) AS night_consent,
  IF(unsubscribed.customer_id IS NOT NULL OR unsubscribed_number.phone_e164 IS NOT NULL, TRUE, contact.opted_out)
    AS opted_out,
  contact.home_dong_code,
  campaign_members.customer_id IS NOT NULL AS in_campaign,
  last_sent.last_sent_at,
  reconfirmed.anniversary AS reconfirmed_anniversary
FROM `{{ ml }}.churn_scores` AS scores
JOIN `{{ core }}.customers` AS customer
  ON customer.snapshot_date = @snapshot_date AND customer.customer_id = scores.customer_id
LEFT JOIN contact ON contact.customer_id = scores.customer_id
LEFT JOIN unsubscribed ON unsubscribed.customer_id = scores.customer_id
LEFT JOIN unsubscribed_numbers AS unsubscribed_number ON unsubscribed_number.phone_e164 = contact.phone_e164
LEFT JOIN campaign_members ON campaign_members.customer_id = scores.customer_id
LEFT JOIN last_sent ON last_sent.customer_id = scores.customer_id
LEFT JOIN reconfirmed ON reconfirmed.customer_id = scores.customer_id AND reconfirmed.consent_date = contact.sms_consent_date
WHERE scores.snapshot_date = @snapshot_date
  AND scores.newly_at_risk
  AND customer.age >= 65
ORDER BY scores.customer_id
