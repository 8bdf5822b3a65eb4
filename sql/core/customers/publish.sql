-- Publish one week to core.customers: type and clean the landed file, then replace the
-- week's partition atomically. Parameters: @snapshot_date, @load_id (the file landed by this
-- run), @published_at. Blank text becomes NULL (TotalCharges is blank for new customers);
-- Yes/No and 0/1 become BOOL; the IBM churn category '0' (no churn) becomes NULL.
MERGE `{{ core }}.customers` AS target
USING (
  SELECT
    _snapshot_date AS snapshot_date,
    NULLIF(TRIM(customer_id), '') AS customer_id,
    NULLIF(TRIM(gender), '') AS gender,
    CASE TRIM(senior_citizen) WHEN '1' THEN TRUE WHEN '0' THEN FALSE END AS senior_citizen,
    CASE UPPER(TRIM(partner)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS partner,
    CASE UPPER(TRIM(dependents)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS dependents,
    IF(REGEXP_CONTAINS(TRIM(tenure), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(tenure) AS INT64), NULL) AS tenure_months,
    CASE UPPER(TRIM(phone_service)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS phone_service,
    NULLIF(TRIM(multiple_lines), '') AS multiple_lines,
    NULLIF(TRIM(internet_service), '') AS internet_service,
    NULLIF(TRIM(online_security), '') AS online_security,
    NULLIF(TRIM(online_backup), '') AS online_backup,
    NULLIF(TRIM(device_protection), '') AS device_protection,
    NULLIF(TRIM(tech_support), '') AS tech_support,
    NULLIF(TRIM(streaming_tv), '') AS streaming_tv,
    NULLIF(TRIM(streaming_movies), '') AS streaming_movies,
    NULLIF(TRIM(contract), '') AS contract,
    CASE UPPER(TRIM(paperless_billing)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS paperless_billing,
    NULLIF(TRIM(payment_method), '') AS payment_method,
    SAFE_CAST(NULLIF(TRIM(monthly_charges), '') AS FLOAT64) AS monthly_charges,
    SAFE_CAST(NULLIF(TRIM(total_charges), '') AS FLOAT64) AS total_charges,
    NULLIF(TRIM(city), '') AS city,
    NULLIF(TRIM(zip_code), '') AS zip_code,
    SAFE_CAST(NULLIF(TRIM(latitude), '') AS FLOAT64) AS latitude,
    SAFE_CAST(NULLIF(TRIM(longitude), '') AS FLOAT64) AS longitude,
    IF(REGEXP_CONTAINS(TRIM(age), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(age) AS INT64), NULL) AS age,
    CASE UPPER(TRIM(married)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS married,
    CASE UPPER(TRIM(referred_a_friend)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS referred_a_friend,
    IF(REGEXP_CONTAINS(TRIM(number_of_referrals), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(number_of_referrals) AS INT64), NULL) AS number_of_referrals,
    NULLIF(TRIM(offer), '') AS offer,
    SAFE_CAST(NULLIF(TRIM(avg_monthly_long_distance_charges), '') AS FLOAT64) AS avg_monthly_long_distance_charges,
    SAFE_CAST(NULLIF(TRIM(avg_monthly_gb_download), '') AS FLOAT64) AS avg_monthly_gb_download,
    CASE UPPER(TRIM(streaming_music)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS streaming_music,
    CASE UPPER(TRIM(premium_tech_support)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS premium_tech_support,
    CASE UPPER(TRIM(unlimited_data)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS unlimited_data,
    SAFE_CAST(NULLIF(TRIM(total_refunds), '') AS FLOAT64) AS total_refunds,
    SAFE_CAST(NULLIF(TRIM(total_extra_data_charges), '') AS FLOAT64) AS total_extra_data_charges,
    SAFE_CAST(NULLIF(TRIM(total_long_distance_charges), '') AS FLOAT64) AS total_long_distance_charges,
    CASE UPPER(TRIM(churn)) WHEN 'YES' THEN TRUE WHEN 'NO' THEN FALSE END AS churned,
    NULLIF(TRIM(customer_status), '') AS customer_status,
    NULLIF(NULLIF(TRIM(churn_category), ''), '0') AS churn_category,
    NULLIF(TRIM(churn_reason), '') AS churn_reason,
    IF(REGEXP_CONTAINS(TRIM(satisfaction_score), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(satisfaction_score) AS INT64), NULL) AS satisfaction_score,
    SAFE_CAST(NULLIF(TRIM(total_revenue), '') AS FLOAT64) AS total_revenue,
    IF(REGEXP_CONTAINS(TRIM(churn_score), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(churn_score) AS INT64), NULL) AS ibm_churn_score,
    IF(REGEXP_CONTAINS(TRIM(churn_score_1), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(churn_score_1) AS INT64), NULL) AS ibm_churn_score_v2,
    IF(REGEXP_CONTAINS(TRIM(cltv), r'^[+-]?[0-9]+$'), SAFE_CAST(TRIM(cltv) AS INT64), NULL) AS ibm_cltv,
    _load_id AS load_id,
    _source_uri AS source_uri,
    _source_row AS source_row,
    @published_at AS published_at
  FROM `{{ raw }}.telco_customer_snapshots`
  WHERE _snapshot_date = @snapshot_date AND _load_id = @load_id
) AS cleaned
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, gender, senior_citizen, partner, dependents, tenure_months, phone_service, multiple_lines, internet_service, online_security, online_backup, device_protection, tech_support, streaming_tv, streaming_movies, contract, paperless_billing, payment_method, monthly_charges, total_charges, city, zip_code, latitude, longitude, age, married, referred_a_friend, number_of_referrals, offer, avg_monthly_long_distance_charges, avg_monthly_gb_download, streaming_music, premium_tech_support, unlimited_data, total_refunds, total_extra_data_charges, total_long_distance_charges, churned, customer_status, churn_category, churn_reason, satisfaction_score, total_revenue, ibm_churn_score, ibm_churn_score_v2, ibm_cltv, load_id, source_uri, source_row, published_at)
  VALUES (cleaned.snapshot_date, cleaned.customer_id, cleaned.gender, cleaned.senior_citizen, cleaned.partner, cleaned.dependents, cleaned.tenure_months, cleaned.phone_service, cleaned.multiple_lines, cleaned.internet_service, cleaned.online_security, cleaned.online_backup, cleaned.device_protection, cleaned.tech_support, cleaned.streaming_tv, cleaned.streaming_movies, cleaned.contract, cleaned.paperless_billing, cleaned.payment_method, cleaned.monthly_charges, cleaned.total_charges, cleaned.city, cleaned.zip_code, cleaned.latitude, cleaned.longitude, cleaned.age, cleaned.married, cleaned.referred_a_friend, cleaned.number_of_referrals, cleaned.offer, cleaned.avg_monthly_long_distance_charges, cleaned.avg_monthly_gb_download, cleaned.streaming_music, cleaned.premium_tech_support, cleaned.unlimited_data, cleaned.total_refunds, cleaned.total_extra_data_charges, cleaned.total_long_distance_charges, cleaned.churned, cleaned.customer_status, cleaned.churn_category, cleaned.churn_reason, cleaned.satisfaction_score, cleaned.total_revenue, cleaned.ibm_churn_score, cleaned.ibm_churn_score_v2, cleaned.ibm_cltv, cleaned.load_id, cleaned.source_uri, cleaned.source_row, cleaned.published_at)
