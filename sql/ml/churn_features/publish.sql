-- One week of ml.churn_features from core.customers (from core.reference_customers for the
-- labelled IBM export; {{ core_table }} names which), written into the week's partition by
-- Warehouse.publish_partition. Parameter: @snapshot_date. No column that is the label, is known
-- only after churn, or is another model's output becomes a feature (README, "Leaking columns").
SELECT
  snapshot_date, customer_id, gender, senior_citizen, partner, dependents, married, age,
  tenure_months, contract, paperless_billing, payment_method,
  phone_service, multiple_lines, internet_service, online_security,
  online_backup, device_protection, tech_support, streaming_tv,
  streaming_movies, streaming_music, premium_tech_support, unlimited_data,
  offer, referred_a_friend, number_of_referrals,
  monthly_charges, total_charges, total_refunds, total_extra_data_charges,
  total_long_distance_charges, avg_monthly_long_distance_charges, avg_monthly_gb_download,
  latitude, longitude,
  (IF(online_security = 'Yes', 1, 0) + IF(online_backup = 'Yes', 1, 0) + IF(device_protection = 'Yes', 1, 0)
    + IF(tech_support = 'Yes', 1, 0) + IF(streaming_tv = 'Yes', 1, 0) + IF(streaming_movies = 'Yes', 1, 0)
    + IF(streaming_music, 1, 0) + IF(premium_tech_support, 1, 0) + IF(multiple_lines = 'Yes', 1, 0)) AS services_count,
  IF(tenure_months > 0, total_charges / tenure_months, monthly_charges) AS charges_per_tenure_month,
  churned AS churn_label,
  ibm_churn_score,
  ibm_cltv
FROM `{{ core }}.{{ core_table }}`
WHERE snapshot_date = @snapshot_date
