-- Notices owed and not answered as of @as_of: their outbox row is not sent or delivered and not
-- closed as moot (the consent went or changed before a re-confirmation could go). With the
-- days left to due_by; alert from alert_from (day 10 of a request's 14; four days before
-- an anniversary). Read by the consent_notices DAG to raise the ops alert; the mart
-- marts.consent_notices shows the same for Looker Studio as of today.
-- Parameters: @as_of.
SELECT
  notices.campaign_id,
  notices.customer_id,
  notices.notice_kind,
  notices.processed_on,
  notices.due_by,
  DATE_DIFF(notices.due_by, @as_of, DAY) AS days_left,
  @as_of >= notices.alert_from AS alert,
  COALESCE(outbox.state, 'missing') AS state,
  outbox.reason
FROM `{{ outreach }}.consent_notices` AS notices
LEFT JOIN `{{ outreach }}.messages` AS outbox
  ON outbox.campaign_id = notices.campaign_id AND outbox.customer_id = notices.customer_id
WHERE notices.processed_on <= @as_of
  AND COALESCE(outbox.state, 'missing') NOT IN ('sent', 'delivered')
  AND COALESCE(outbox.reason, '') NOT IN ('opted_out_before_send', 'consent_changed')
ORDER BY notices.due_by, notices.customer_id
