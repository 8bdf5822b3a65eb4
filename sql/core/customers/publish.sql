-- Publish one validated week to core.customers (or core.reference_customers, {{ core_table }}): the typed rows of the landed file, less the
-- rows validation quarantined, replace the week's partition in one statement.
-- Parameters: @snapshot_date, @load_id (the file landed and validated by this run), @published_at.
MERGE `{{ core }}.{{ core_table }}` AS target
USING (
  SELECT
    typed.snapshot_date,
    typed.customer_id,
    typed.gender,
    typed.senior_citizen,
    typed.partner,
    typed.dependents,
    typed.tenure_months,
    typed.phone_service,
    typed.multiple_lines,
    typed.internet_service,
    typed.online_security,
    typed.online_backup,
    typed.device_protection,
    typed.tech_support,
    typed.streaming_tv,
    typed.streaming_movies,
    typed.contract,
    typed.paperless_billing,
    typed.payment_method,
    typed.monthly_charges,
    typed.total_charges,
    typed.city,
    typed.zip_code,
    typed.latitude,
    typed.longitude,
    typed.age,
    typed.married,
    typed.referred_a_friend,
    typed.number_of_referrals,
    typed.offer,
    typed.avg_monthly_long_distance_charges,
    typed.avg_monthly_gb_download,
    typed.streaming_music,
    typed.premium_tech_support,
    typed.unlimited_data,
    typed.total_refunds,
    typed.total_extra_data_charges,
    typed.total_long_distance_charges,
    typed.churned,
    typed.customer_status,
    typed.churn_category,
    typed.churn_reason,
    typed.satisfaction_score,
    typed.total_revenue,
    typed.ibm_churn_score,
    typed.ibm_churn_score_v2,
    typed.ibm_cltv,
    typed.is_synthetic,
    typed.load_id,
    typed.source_uri,
    typed.source_row,
    @published_at AS published_at
  FROM `{{ raw }}.telco_customers_typed` AS typed
  LEFT JOIN `{{ ops }}.quarantine` AS quarantined
    ON quarantined.suite = 'telco_customers'
    AND quarantined.snapshot_date = @snapshot_date
    AND quarantined.load_id = @load_id
    AND quarantined.source_row = typed.source_row
  WHERE typed.snapshot_date = @snapshot_date AND typed.load_id = @load_id AND quarantined.source_row IS NULL
) AS cleaned
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, gender, senior_citizen, partner, dependents, tenure_months, phone_service, multiple_lines, internet_service, online_security, online_backup, device_protection, tech_support, streaming_tv, streaming_movies, contract, paperless_billing, payment_method, monthly_charges, total_charges, city, zip_code, latitude, longitude, age, married, referred_a_friend, number_of_referrals, offer, avg_monthly_long_distance_charges, avg_monthly_gb_download, streaming_music, premium_tech_support, unlimited_data, total_refunds, total_extra_data_charges, total_long_distance_charges, churned, customer_status, churn_category, churn_reason, satisfaction_score, total_revenue, ibm_churn_score, ibm_churn_score_v2, ibm_cltv, is_synthetic, load_id, source_uri, source_row, published_at)
  VALUES (cleaned.snapshot_date, cleaned.customer_id, cleaned.gender, cleaned.senior_citizen, cleaned.partner, cleaned.dependents, cleaned.tenure_months, cleaned.phone_service, cleaned.multiple_lines, cleaned.internet_service, cleaned.online_security, cleaned.online_backup, cleaned.device_protection, cleaned.tech_support, cleaned.streaming_tv, cleaned.streaming_movies, cleaned.contract, cleaned.paperless_billing, cleaned.payment_method, cleaned.monthly_charges, cleaned.total_charges, cleaned.city, cleaned.zip_code, cleaned.latitude, cleaned.longitude, cleaned.age, cleaned.married, cleaned.referred_a_friend, cleaned.number_of_referrals, cleaned.offer, cleaned.avg_monthly_long_distance_charges, cleaned.avg_monthly_gb_download, cleaned.streaming_music, cleaned.premium_tech_support, cleaned.unlimited_data, cleaned.total_refunds, cleaned.total_extra_data_charges, cleaned.total_long_distance_charges, cleaned.churned, cleaned.customer_status, cleaned.churn_category, cleaned.churn_reason, cleaned.satisfaction_score, cleaned.total_revenue, cleaned.ibm_churn_score, cleaned.ibm_churn_score_v2, cleaned.ibm_cltv, cleaned.is_synthetic, cleaned.load_id, cleaned.source_uri, cleaned.source_row, cleaned.published_at)
