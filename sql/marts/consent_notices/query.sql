-- marts.consent_notices: every notice the Network Act makes the sender owe (art. 50(7): the
-- result of a consent, opt-out or withdrawal within 14 days; art. 50(8): the two-year consent
-- re-confirmation), where it stands on @today (Seoul), and an alert for any still unanswered from
-- its alert day (day 10 of 14; four days before an anniversary). The consent_notices DAG raises
-- the same as a consent_notice_overdue warning in ops.alerts.
-- A small table (metadata.yaml), replaced whole: by churn_weekly's refresh_marts and, daily, by
-- the consent_notices DAG after its delivery check (refresh_consent_notices), so days_left and
-- alert are as of that run's day. @today: the Seoul date of the refresh (the DAG's clock).
SELECT
  notices.notice_kind,
  notices.customer_id,
  notices.request_source,
  notices.consent_date,
  notices.anniversary,
  notices.requested_on,
  notices.processed_on,
  notices.due_by,
  COALESCE(outbox.state, 'missing') AS state,
  outbox.reason,
  outbox.sent_at,
  COALESCE(outbox.state IN ('sent', 'delivered') AND DATE(outbox.sent_at, 'Asia/Seoul') <= notices.due_by, FALSE)
    AS answered_in_time,
  COALESCE(outbox.state NOT IN ('sent', 'delivered') AND COALESCE(outbox.reason, '') NOT IN ('opted_out_before_send', 'consent_changed'), TRUE)
    AS unanswered,
  DATE_DIFF(notices.due_by, @today, DAY) AS days_left,
  COALESCE(outbox.state NOT IN ('sent', 'delivered') AND COALESCE(outbox.reason, '') NOT IN ('opted_out_before_send', 'consent_changed'), TRUE)
    AND @today >= notices.alert_from AS alert
FROM `{{ outreach }}.consent_notices` AS notices
LEFT JOIN `{{ outreach }}.messages` AS outbox
  ON outbox.campaign_id = notices.campaign_id AND outbox.customer_id = notices.customer_id
