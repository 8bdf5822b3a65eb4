-- core.customer_presence: who was a customer in each published week, quarantined rows
-- included (a customer whose row failed a data check has not left). The marts read "left"
-- from it, as ml.churn_labels does, so observed churn and the training label agree.
CREATE OR REPLACE VIEW `{{ core }}.customer_presence`
OPTIONS (description = 'Customers present in each published week, quarantined rows included.')
AS
SELECT DISTINCT typed.snapshot_date, typed.customer_id
FROM `{{ raw }}.telco_customers_typed` AS typed
JOIN (
  SELECT DISTINCT published.snapshot_date, published.load_id FROM `{{ core }}.customers` AS published
) AS loads
  ON loads.snapshot_date = typed.snapshot_date AND loads.load_id = typed.load_id
WHERE typed.customer_id IS NOT NULL
