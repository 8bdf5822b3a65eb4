-- What queue_messages needs for the week's message group: each customer's contact as published
-- that week (the latest core.contacts on or before it), for those not in the outbox yet.
-- Parameters: @snapshot_date, @campaign_id.
SELECT
  audience.customer_id,
  contact.phone_key,
  COALESCE(contact.night_consent, FALSE) AS night_consent,
  contact.home_dong_code
FROM `{{ outreach }}.campaign_audience` AS audience
JOIN `{{ core }}.contacts` AS contact
  ON contact.customer_id = audience.customer_id AND contact.snapshot_date = @contacts_week
LEFT JOIN `{{ outreach }}.messages` AS outbox
  ON outbox.campaign_id = audience.campaign_id AND outbox.customer_id = audience.customer_id
WHERE audience.campaign_id = @campaign_id
  AND audience.snapshot_date = @snapshot_date
  AND audience.campaign_group = 'message'
  AND outbox.customer_id IS NULL
ORDER BY audience.customer_id
