-- marts.senior_watch_list: customers aged 65 or more in the medium or high band of the latest
-- scored week, riskiest first: who they are, why, what they are worth, whether they may be
-- messaged. The audience of senior_outreach is the newly at-risk part of this list.
SELECT
  risk.week,
  risk.customer_id,
  risk.age,
  risk.risk_rank,
  risk.churn_probability,
  risk.risk_band,
  risk.newly_at_risk,
  risk.reason_1,
  risk.reason_2,
  risk.reason_3,
  risk.segment_name,
  risk.contract,
  risk.tenure_months,
  risk.monthly_charges,
  risk.monthly_revenue_at_risk,
  risk.predicted_cltv,
  risk.district,
  risk.legal_dong,
  risk.sms_allowed
FROM `{{ marts }}.customer_risk` AS risk
WHERE risk.age >= 65 AND risk.risk_band IN ('high', 'medium')
