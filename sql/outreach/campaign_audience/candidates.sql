-- The audience of one scored week, before the rules: every customer aged 65 or more who is
-- newly at risk in ml.churn_scores, with their contact as published that week (the latest
-- core.contacts on or before it) and what the campaigns already did with them: in this
-- campaign in an earlier week, and the last message any campaign sent them (this campaign's
-- earlier weeks, other campaigns' at any time). Unsubscribes learnt from the provider always
-- count. Decisions are recorded once (insert-only), so a re-run never changes them.
-- Parameters: @snapshot_date, @campaign_id.
WITH
contacts_week AS (
  SELECT MAX(snapshot_date) AS snapshot_date FROM `{{ core }}.contacts` WHERE snapshot_date <= @snapshot_date
),
contact AS (
  SELECT contacts.*
  FROM `{{ core }}.contacts` AS contacts
  JOIN contacts_week ON contacts.snapshot_date = contacts_week.snapshot_date
),
unsubscribed AS (
  SELECT DISTINCT customer_id FROM `{{ outreach }}.opt_outs`
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
  IF(unsubscribed.customer_id IS NOT NULL, TRUE, contact.opted_out) AS opted_out,
  contact.home_dong_code,
  campaign_members.customer_id IS NOT NULL AS in_campaign,
  last_sent.last_sent_at
FROM `{{ ml }}.churn_scores` AS scores
JOIN `{{ core }}.customers` AS customer
  ON customer.snapshot_date = scores.snapshot_date AND customer.customer_id = scores.customer_id
LEFT JOIN contact ON contact.customer_id = scores.customer_id
LEFT JOIN unsubscribed ON unsubscribed.customer_id = scores.customer_id
LEFT JOIN campaign_members ON campaign_members.customer_id = scores.customer_id
LEFT JOIN last_sent ON last_sent.customer_id = scores.customer_id
WHERE scores.snapshot_date = @snapshot_date
  AND scores.newly_at_risk
  AND customer.age >= 65
ORDER BY scores.customer_id
