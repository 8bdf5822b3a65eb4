-- One validated week of core.customers (or core.reference_customers, {{ core_table }}): the
-- typed rows of the landed file, less the rows validation quarantined. The warehouse writes
-- these rows into the week's partition (Warehouse.publish_partition: a query job into
-- customers$YYYYMMDD with WRITE_TRUNCATE on BigQuery), replacing it in one atomic job.
-- Parameters: @snapshot_date, @load_id (the file landed and validated by this run), @published_at.
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
