-- outreach.campaign_audience: every senior (65+) newly at risk in a scored week, and what the
-- campaign decided for them: excluded (with the first rule that applies) or assigned to a
-- group (message, or holdout: the control, never messaged). One partition per week; a re-run
-- of the week replaces its rows with the same decisions (the holdout is a hash).
CREATE TABLE IF NOT EXISTS `{{ outreach }}.campaign_audience` (
  campaign_id STRING NOT NULL,
  snapshot_date DATE NOT NULL OPTIONS(description = 'Scored week the customer was newly at risk in.'),
  customer_id STRING NOT NULL,
  churn_probability FLOAT64,
  excluded_reason STRING OPTIONS(description = 'Why not messaged: no_sms_consent, consent_not_reconfirmed, opted_out, not_a_korean_mobile_number, no_home_dong, already_in_campaign, cool_down; NULL when in a group.'),
  campaign_group STRING OPTIONS(description = 'message or holdout (control); NULL when excluded.'),
  decided_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
CLUSTER BY campaign_id
OPTIONS (description = 'Newly at-risk seniors per week: excluded with a reason, or messaged, or held out as control. Written by senior_outreach.')
