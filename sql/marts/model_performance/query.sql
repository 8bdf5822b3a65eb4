-- marts.model_performance: how each champion did, week by week. Cross-validated figures from
-- the registry (measured before the model scored anything) beside what happened afterwards:
-- of the week's customers, who was gone four weeks later (known once that week is published).
-- One scored week, @snapshot_date; @outcome_known: the week four weeks later is published.
-- Refreshed for the scored week and again when that later week is published (refresh_marts).
WITH outcomes AS (
  SELECT
    scores.snapshot_date,
    scores.model_version,
    scores.churn_probability,
    scores.at_risk,
    @outcome_known AS outcome_known,
    IF(later.customer_id IS NULL, 1, 0) AS left_within_4_weeks,
    (RANK() OVER (PARTITION BY scores.snapshot_date ORDER BY scores.churn_probability)
      + COUNT(*) OVER (PARTITION BY scores.snapshot_date) + 1
      - RANK() OVER (PARTITION BY scores.snapshot_date ORDER BY scores.churn_probability DESC)) / 2 AS probability_rank
  FROM `{{ ml }}.churn_scores` AS scores
  LEFT JOIN `{{ core }}.customer_presence` AS later
    ON later.snapshot_date = DATE_ADD(@snapshot_date, INTERVAL 28 DAY) AND later.customer_id = scores.customer_id
  WHERE scores.snapshot_date = @snapshot_date
),
weekly AS (
  SELECT
    outcomes.snapshot_date,
    outcomes.model_version,
    COUNT(*) AS customers,
    COUNTIF(outcomes.at_risk) AS at_risk_customers,
    AVG(outcomes.churn_probability) AS average_churn_probability,
    LOGICAL_AND(outcomes.outcome_known) AS outcome_known,
    SUM(outcomes.left_within_4_weeks) AS leavers,
    SUM(IF(outcomes.at_risk, outcomes.left_within_4_weeks, 0)) AS at_risk_leavers,
    SUM(IF(outcomes.left_within_4_weeks = 1, outcomes.probability_rank, 0)) AS leaver_rank_sum
  FROM outcomes
  GROUP BY outcomes.snapshot_date, outcomes.model_version
)
SELECT
  weekly.snapshot_date AS week,
  weekly.model_version,
  registry.status AS model_status,
  registry.trained_at AS model_trained_at,
  registry.roc_auc AS cross_validated_roc_auc,
  registry.pr_auc AS cross_validated_pr_auc,
  weekly.customers,
  weekly.at_risk_customers,
  weekly.average_churn_probability,
  IF(weekly.outcome_known, weekly.leavers, NULL) AS left_within_4_weeks,
  IF(weekly.outcome_known, weekly.leavers / weekly.customers, NULL) AS observed_churn_rate_4_weeks,
  IF(weekly.outcome_known, SAFE_DIVIDE(weekly.at_risk_leavers, weekly.at_risk_customers), NULL) AS at_risk_precision,
  IF(weekly.outcome_known, SAFE_DIVIDE(weekly.at_risk_leavers, weekly.leavers), NULL) AS leavers_flagged_share,
  IF(
    weekly.outcome_known,
    SAFE_DIVIDE(
      weekly.leaver_rank_sum - weekly.leavers * (weekly.leavers + 1) / 2,
      weekly.leavers * (weekly.customers - weekly.leavers)
    ),
    NULL
  ) AS observed_roc_auc
FROM weekly
LEFT JOIN `{{ ml }}.model_registry` AS registry
  ON registry.model_version = weekly.model_version
