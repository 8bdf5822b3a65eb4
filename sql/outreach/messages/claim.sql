-- Claim a batch for sending: queued -> sending, with the attempt's start (what a crash is
-- reconciled from) and one more attempt counted. Only rows still queued are claimed: the
-- number of rows changed must equal the batch, or someone else is sending them.
-- Parameters: @campaign_id, @customer_ids, @attempt_started_at.
UPDATE `{{ outreach }}.messages`
SET state = 'sending', attempt_started_at = @attempt_started_at, attempts = attempts + 1,
    updated_at = @attempt_started_at
WHERE campaign_id = @campaign_id AND customer_id IN UNNEST(@customer_ids) AND state = 'queued'
