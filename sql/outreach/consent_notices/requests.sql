-- Consent and opt-out requests recorded in the last @lookback_days up to @as_of, each once:
-- - from the contacts: each published week compared with the week before it. Able to receive
--   advertising before (consent, not opted out) and not now: opt_out (the 080 line, a shop or
--   the app set the opt-out flag: dated by opted_out_date) or consent_withdrawn; able now and
--   not before, or a consent dated after the previous week: consent (dated by its date).
--   The first contacts week ever published has nothing to compare with and yields nothing;
-- - from the SMS provider: an unsubscribe (outreach.opt_outs: Twilio 21610, STOP), dated when
--   the provider reported it. The contacts' flag that follows it is the same request, not a second.
-- Requests already in outreach.consent_notices are left out, so a re-run finds nothing new.
-- Parameters: @as_of, @lookback_days, @from_week (the partition of core.contacts before the first
-- week of the look-back, from the partition list: every read below is pruned to @from_week..@as_of).
-- The outbox gets the number's key (phone_key); the sender reads the number itself.
WITH
weeks AS (
  SELECT snapshot_date, LAG(snapshot_date) OVER (ORDER BY snapshot_date) AS previous_date
  FROM (SELECT DISTINCT snapshot_date FROM `{{ core }}.contacts` WHERE snapshot_date BETWEEN @from_week AND @as_of)
),
recent AS (
  SELECT * FROM weeks
  WHERE previous_date IS NOT NULL AND snapshot_date > DATE_SUB(@as_of, INTERVAL @lookback_days DAY)
),
compared AS (
  SELECT
    contact.customer_id,
    contact.phone_key,
    recent.snapshot_date AS processed_on,
    recent.previous_date,
    contact.sms_consent AND NOT contact.opted_out AS allowed,
    COALESCE(previous.sms_consent AND NOT previous.opted_out, FALSE) AS was_allowed,
    previous.customer_id IS NOT NULL AS known_before,
    contact.opted_out,
    contact.opted_out_date,
    contact.sms_consent_date
  FROM recent
  JOIN `{{ core }}.contacts` AS contact
    ON contact.snapshot_date = recent.snapshot_date AND contact.snapshot_date BETWEEN @from_week AND @as_of
  LEFT JOIN `{{ core }}.contacts` AS previous
    ON previous.snapshot_date = recent.previous_date AND previous.customer_id = contact.customer_id
    AND previous.snapshot_date BETWEEN @from_week AND @as_of
),
from_contacts AS (
  SELECT
    customer_id,
    phone_key,
    processed_on,
    CASE
      WHEN was_allowed AND NOT allowed AND opted_out THEN 'opt_out'
      WHEN was_allowed AND NOT allowed THEN 'consent_withdrawn'
      WHEN allowed AND (sms_consent_date > previous_date OR (known_before AND NOT was_allowed)) THEN 'consent'
    END AS notice_kind,
    CASE
      WHEN was_allowed AND NOT allowed AND opted_out THEN LEAST(COALESCE(opted_out_date, processed_on), processed_on)
      WHEN was_allowed AND NOT allowed THEN processed_on
      WHEN sms_consent_date > previous_date THEN LEAST(sms_consent_date, processed_on)
      ELSE processed_on
    END AS requested_on,
    IF(allowed, sms_consent_date, NULL) AS consent_date,
    'contacts' AS request_source
  FROM compared
),
from_provider AS (
  SELECT
    customer_id,
    phone_key,
    DATE(recorded_at, 'Asia/Seoul') AS processed_on,
    'opt_out' AS notice_kind,
    DATE(recorded_at, 'Asia/Seoul') AS requested_on,
    CAST(NULL AS DATE) AS consent_date,
    source AS request_source
  FROM `{{ outreach }}.opt_outs`
  WHERE DATE(recorded_at, 'Asia/Seoul') <= @as_of
    AND DATE(recorded_at, 'Asia/Seoul') > DATE_SUB(@as_of, INTERVAL @lookback_days DAY)
),
requests AS (
  SELECT from_contacts.*
  FROM from_contacts
  LEFT JOIN `{{ outreach }}.opt_outs` AS provider
    ON provider.customer_id = from_contacts.customer_id AND from_contacts.notice_kind = 'opt_out'
  WHERE from_contacts.notice_kind IS NOT NULL AND provider.customer_id IS NULL
  UNION ALL
  SELECT * FROM from_provider
)
SELECT requests.*, CONCAT('notice:', requests.notice_kind, ':', CAST(requests.requested_on AS STRING)) AS campaign_id
FROM requests
LEFT JOIN `{{ outreach }}.consent_notices` AS notices
  ON notices.customer_id = requests.customer_id
  AND notices.campaign_id = CONCAT('notice:', requests.notice_kind, ':', CAST(requests.requested_on AS STRING))
WHERE notices.customer_id IS NULL
ORDER BY requests.customer_id, requests.requested_on
