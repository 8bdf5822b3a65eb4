-- Build one week of ml.churn_features from core.customers, replacing the week (from
-- core.reference_customers for the labelled IBM export; {{ core_table }} names which).
-- Parameter: @snapshot_date. No column that is the label, is known only after churn, or is
-- another model's output becomes a feature (README, "Leaking columns").
MERGE `{{ ml }}.churn_features` AS target
USING (
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
) AS built
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, gender, senior_citizen, partner, dependents, married, age, tenure_months,
          contract, paperless_billing, payment_method, phone_service, multiple_lines, internet_service,
          online_security, online_backup, device_protection, tech_support, streaming_tv, streaming_movies,
          streaming_music, premium_tech_support, unlimited_data, offer, referred_a_friend, number_of_referrals,
          monthly_charges, total_charges, total_refunds, total_extra_data_charges, total_long_distance_charges,
          avg_monthly_long_distance_charges, avg_monthly_gb_download, latitude, longitude, services_count,
          charges_per_tenure_month, churn_label, ibm_churn_score, ibm_cltv)
  VALUES (built.snapshot_date, built.customer_id, built.gender, built.senior_citizen, built.partner, built.dependents,
          built.married, built.age, built.tenure_months, built.contract, built.paperless_billing, built.payment_method,
          built.phone_service, built.multiple_lines, built.internet_service, built.online_security, built.online_backup,
          built.device_protection, built.tech_support, built.streaming_tv, built.streaming_movies, built.streaming_music,
          built.premium_tech_support, built.unlimited_data, built.offer, built.referred_a_friend,
          built.number_of_referrals, built.monthly_charges, built.total_charges, built.total_refunds,
          built.total_extra_data_charges, built.total_long_distance_charges, built.avg_monthly_long_distance_charges,
          built.avg_monthly_gb_download, built.latitude, built.longitude, built.services_count,
          built.charges_per_tenure_month, built.churn_label, built.ibm_churn_score, built.ibm_cltv)
