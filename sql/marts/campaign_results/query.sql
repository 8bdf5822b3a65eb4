-- marts.campaign_results: did the senior SMS campaign keep people? Each customer counts once
-- per campaign, in the cohort of the first week they were put in a group (message or holdout);
-- excluded rows are not part of the comparison. Intention-to-treat: the message group is
-- everyone assigned to it, delivered or not, so the holdout stays a fair control (who gets a
-- message delivered is not random).
-- "Left" is read from core.customer_presence, as model_performance and ml.churn_labels do: gone
-- at the follow-up week, four weeks after the cohort week or the latest published week if
-- sooner. A cohort followed for 0 weeks has no outcome yet. The pooled row is four-week churn:
-- its left counts and rates use only the cohorts followed the full four weeks.
-- The 95% interval of the difference is Newcombe's (hybrid score, from the two Wilson
-- intervals; Newcombe 1998, method 10): it stays honest for small groups and rates of 0 or 1.
-- @latest_published_week: the newest published week of core.customers (from its partition list).
WITH assignments AS (
  SELECT
    audience.campaign_id,
    audience.customer_id,
    audience.snapshot_date,
    audience.campaign_group,
    ROW_NUMBER() OVER (
      PARTITION BY audience.campaign_id, audience.customer_id ORDER BY audience.snapshot_date
    ) AS assignment_number
  FROM `{{ outreach }}.campaign_audience` AS audience
  WHERE audience.campaign_group IS NOT NULL
),
latest AS (
  SELECT @latest_published_week AS week
),
cohorts AS (
  SELECT
    assignments.campaign_id,
    assignments.customer_id,
    assignments.snapshot_date AS cohort_week,
    assignments.campaign_group,
    -- Never before the cohort week: a week not yet published has simply not been followed.
    GREATEST(
      assignments.snapshot_date,
      LEAST(DATE_ADD(assignments.snapshot_date, INTERVAL 28 DAY), latest.week)
    ) AS follow_up_week
  FROM assignments
  CROSS JOIN latest
  WHERE assignments.assignment_number = 1
),
outcomes AS (
  SELECT
    cohorts.campaign_id,
    cohorts.cohort_week,
    cohorts.campaign_group,
    DIV(DATE_DIFF(cohorts.follow_up_week, cohorts.cohort_week, DAY), 7) AS weeks_followed,
    cohorts.follow_up_week > cohorts.cohort_week AS followed,
    cohorts.follow_up_week > cohorts.cohort_week AND later.customer_id IS NULL AS has_left,
    DATE_DIFF(cohorts.follow_up_week, cohorts.cohort_week, DAY) >= 28 AS fully_followed,
    COALESCE(messages.state = 'delivered', FALSE) AS delivered
  FROM cohorts
  LEFT JOIN `{{ core }}.customer_presence` AS later
    ON later.snapshot_date = cohorts.follow_up_week AND later.customer_id = cohorts.customer_id
  LEFT JOIN `{{ outreach }}.messages` AS messages
    ON messages.campaign_id = cohorts.campaign_id AND messages.customer_id = cohorts.customer_id
),
counts AS (
  SELECT
    outcomes.campaign_id,
    CAST(outcomes.cohort_week AS STRING) AS cohort,
    outcomes.cohort_week,
    MAX(outcomes.weeks_followed) AS weeks_followed,
    COUNTIF(outcomes.campaign_group = 'message') AS messaged_customers,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.delivered) AS messages_delivered,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.followed) AS messaged_followed,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.has_left) AS messaged_left,
    COUNTIF(outcomes.campaign_group = 'holdout') AS holdout_customers,
    COUNTIF(outcomes.campaign_group = 'holdout' AND outcomes.followed) AS holdout_followed,
    COUNTIF(outcomes.campaign_group = 'holdout' AND outcomes.has_left) AS holdout_left
  FROM outcomes
  GROUP BY outcomes.campaign_id, outcomes.cohort_week
  UNION ALL
  SELECT
    outcomes.campaign_id,
    'all weeks' AS cohort,
    CAST(NULL AS DATE) AS cohort_week,
    CAST(NULL AS INT64) AS weeks_followed,
    COUNTIF(outcomes.campaign_group = 'message') AS messaged_customers,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.delivered) AS messages_delivered,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.fully_followed) AS messaged_followed,
    COUNTIF(outcomes.campaign_group = 'message' AND outcomes.fully_followed AND outcomes.has_left) AS messaged_left,
    COUNTIF(outcomes.campaign_group = 'holdout') AS holdout_customers,
    COUNTIF(outcomes.campaign_group = 'holdout' AND outcomes.fully_followed) AS holdout_followed,
    COUNTIF(outcomes.campaign_group = 'holdout' AND outcomes.fully_followed AND outcomes.has_left) AS holdout_left
  FROM outcomes
  GROUP BY outcomes.campaign_id
),
rates AS (
  SELECT
    counts.*,
    SAFE_DIVIDE(counts.messaged_left, counts.messaged_followed) AS messaged_churn_rate,
    SAFE_DIVIDE(counts.holdout_left, counts.holdout_followed) AS holdout_churn_rate
  FROM counts
),
-- Wilson score interval of each rate (z = 1.96), for Newcombe's interval of the difference:
-- honest with groups of tens and with rates of 0 or 1, where the normal approximation (the
-- standard error column, kept for reference) gives an interval of width 0.
wilson AS (
  SELECT
    rates.*,
    SAFE_DIVIDE(rates.messaged_churn_rate + SAFE_DIVIDE(1.9208, rates.messaged_followed),
                1 + SAFE_DIVIDE(3.8416, rates.messaged_followed)) AS messaged_centre,
    SAFE_DIVIDE(1.96 * SQRT(SAFE_DIVIDE(rates.messaged_churn_rate * (1 - rates.messaged_churn_rate), rates.messaged_followed)
                            + SAFE_DIVIDE(0.9604, rates.messaged_followed * rates.messaged_followed)),
                1 + SAFE_DIVIDE(3.8416, rates.messaged_followed)) AS messaged_half_width,
    SAFE_DIVIDE(rates.holdout_churn_rate + SAFE_DIVIDE(1.9208, rates.holdout_followed),
                1 + SAFE_DIVIDE(3.8416, rates.holdout_followed)) AS holdout_centre,
    SAFE_DIVIDE(1.96 * SQRT(SAFE_DIVIDE(rates.holdout_churn_rate * (1 - rates.holdout_churn_rate), rates.holdout_followed)
                            + SAFE_DIVIDE(0.9604, rates.holdout_followed * rates.holdout_followed)),
                1 + SAFE_DIVIDE(3.8416, rates.holdout_followed)) AS holdout_half_width
  FROM rates
),
differences AS (
  SELECT
    wilson.*,
    wilson.messaged_churn_rate - wilson.holdout_churn_rate AS churn_difference,
    SQRT(
      SAFE_DIVIDE(wilson.messaged_churn_rate * (1 - wilson.messaged_churn_rate), wilson.messaged_followed)
      + SAFE_DIVIDE(wilson.holdout_churn_rate * (1 - wilson.holdout_churn_rate), wilson.holdout_followed)
    ) AS difference_standard_error,
    wilson.messaged_centre - wilson.messaged_half_width AS messaged_low,
    wilson.messaged_centre + wilson.messaged_half_width AS messaged_high,
    wilson.holdout_centre - wilson.holdout_half_width AS holdout_low,
    wilson.holdout_centre + wilson.holdout_half_width AS holdout_high
  FROM wilson
)
SELECT
  differences.campaign_id,
  differences.cohort,
  differences.cohort_week,
  differences.weeks_followed,
  differences.messaged_customers,
  differences.messages_delivered,
  differences.messaged_left,
  differences.messaged_churn_rate,
  differences.holdout_customers,
  differences.holdout_left,
  differences.holdout_churn_rate,
  differences.churn_difference,
  differences.difference_standard_error,
  differences.churn_difference - SQRT(
    POW(differences.messaged_churn_rate - differences.messaged_low, 2)
    + POW(differences.holdout_high - differences.holdout_churn_rate, 2)
  ) AS difference_ci_low,
  differences.churn_difference + SQRT(
    POW(differences.messaged_high - differences.messaged_churn_rate, 2)
    + POW(differences.holdout_churn_rate - differences.holdout_low, 2)
  ) AS difference_ci_high
FROM differences
ORDER BY differences.campaign_id, differences.cohort_week IS NULL, differences.cohort_week
