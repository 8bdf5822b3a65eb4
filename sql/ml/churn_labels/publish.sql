-- Label one week from the week @horizon_weeks later: a customer of this week who is not in
-- that later week's published file left. Writes nothing while that week is not published yet
-- (the label is not known). Parameters: @snapshot_date, @horizon_weeks.
MERGE `{{ ml }}.churn_labels` AS target
USING (
  SELECT
    present.snapshot_date,
    present.customer_id,
    @horizon_weeks AS horizon_weeks,
    later.customer_id IS NULL AS left_within_horizon,
    DATE_ADD(@snapshot_date, INTERVAL 7 * @horizon_weeks DAY) AS labelled_from
  FROM `{{ core }}.customers` AS present
  -- Present later means in the later week's published file, quarantined rows included: a
  -- customer whose row failed a check has not left.
  LEFT JOIN (
    SELECT DISTINCT typed.customer_id
    FROM `{{ raw }}.telco_customers_typed` AS typed
    WHERE typed.snapshot_date = DATE_ADD(@snapshot_date, INTERVAL 7 * @horizon_weeks DAY)
      AND typed.customer_id IS NOT NULL
      AND typed.load_id IN (
        SELECT DISTINCT load_id FROM `{{ core }}.customers`
        WHERE snapshot_date = DATE_ADD(@snapshot_date, INTERVAL 7 * @horizon_weeks DAY)
      )
  ) AS later
    ON later.customer_id = present.customer_id
  WHERE present.snapshot_date = @snapshot_date
    AND EXISTS (
      SELECT 1 FROM `{{ core }}.customers`
      WHERE snapshot_date = DATE_ADD(@snapshot_date, INTERVAL 7 * @horizon_weeks DAY)
    )
) AS labelled
ON FALSE
WHEN NOT MATCHED BY SOURCE AND target.snapshot_date = @snapshot_date AND target.horizon_weeks = @horizon_weeks THEN
  DELETE
WHEN NOT MATCHED THEN
  INSERT (snapshot_date, customer_id, horizon_weeks, left_within_horizon, labelled_from)
  VALUES (labelled.snapshot_date, labelled.customer_id, labelled.horizon_weeks, labelled.left_within_horizon,
          labelled.labelled_from)
