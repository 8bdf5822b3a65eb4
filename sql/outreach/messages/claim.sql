-- Claim a batch for sending: queued -> sending, stamped with this attempt's claim id and start
-- (its lease: no other run touches the row until the lease has expired), one more attempt
-- counted. Only rows still queued are claimed; the sender then reads back which rows carry its
-- claim id and sends those alone. The error columns describe the latest attempt: cleared here,
-- so a row in sending with an error is one whose attempt ended unanswered (a timeout), and one
-- without is still held by its attempt (or by a worker that stopped).
-- Parameters: @campaign_id, @customer_ids, @claim_id, @attempt_started_at.
UPDATE `{{ outreach }}.messages`
SET state = 'sending', claim_id = @claim_id, attempt_started_at = @attempt_started_at, attempts = attempts + 1,
    error_code = NULL, error_message = NULL, updated_at = @attempt_started_at
WHERE campaign_id = @campaign_id AND customer_id IN UNNEST(@customer_ids) AND state = 'queued'
