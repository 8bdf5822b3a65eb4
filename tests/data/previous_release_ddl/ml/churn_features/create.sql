-- ml.churn_features: one row per customer per weekly snapshot, the only columns a churn model
-- may see. Built by sql/ml/churn_features/publish.sql from core.customers. The label
-- (churned, from the IBM export) and IBM's own outputs are kept apart in churn_label and
-- ibm_churn_score, which the training code takes out before any model sees the frame.
CREATE TABLE IF NOT EXISTS `{{ ml }}.churn_features` (
  snapshot_date DATE NOT NULL,
  customer_id STRING NOT NULL,
  gender STRING, senior_citizen BOOL, partner BOOL, dependents BOOL, married BOOL, age INT64,
  tenure_months INT64, contract STRING, paperless_billing BOOL, payment_method STRING,
  phone_service BOOL, multiple_lines STRING, internet_service STRING, online_security STRING,
  online_backup STRING, device_protection STRING, tech_support STRING, streaming_tv STRING,
  streaming_movies STRING, streaming_music BOOL, premium_tech_support BOOL, unlimited_data BOOL,
  offer STRING, referred_a_friend BOOL, number_of_referrals INT64,
  monthly_charges FLOAT64, total_charges FLOAT64, total_refunds FLOAT64, total_extra_data_charges FLOAT64,
  total_long_distance_charges FLOAT64, avg_monthly_long_distance_charges FLOAT64, avg_monthly_gb_download FLOAT64,
  latitude FLOAT64, longitude FLOAT64,
  services_count INT64 OPTIONS(description = 'How many of the optional services the customer has.'),
  charges_per_tenure_month FLOAT64 OPTIONS(description = 'Charges to date / months with the company.'),
  churn_label BOOL OPTIONS(description = 'LABEL, never a feature: the export says the customer left.'),
  ibm_churn_score INT64 OPTIONS(description = 'REFERENCE, never a feature: IBM model output, a baseline line.'),
  ibm_cltv INT64 OPTIONS(description = 'REGRESSION TARGET for CLTV, never a churn feature.')
)
PARTITION BY snapshot_date
CLUSTER BY customer_id
OPTIONS (description = 'Churn model features per customer and week. Written by churn training.')
