-- Record what happened to messages: the staged rows ({{ staged }}, a staging table in outreach
-- with the outbox columns: whole rows as send_messages or
-- check_delivery left them) replace the state columns of their (campaign, customer). A row
-- already in a final state (delivered, undelivered, failed, skipped) is never changed, and
-- neither is a row claimed by another attempt since it was read (its claim_id differs).
MERGE `{{ outreach }}.messages` AS target
USING `{{ outreach }}.{{ staged }}` AS staged
ON target.campaign_id = staged.campaign_id AND target.customer_id = staged.customer_id
WHEN MATCHED AND target.state IN ('queued', 'sending', 'sent')
  AND COALESCE(target.claim_id, '') = COALESCE(staged.claim_id, '') THEN
  UPDATE SET
    state = staged.state,
    reason = staged.reason,
    not_before = staged.not_before,
    transport = staged.transport,
    simulated = staged.simulated,
    provider_message_id = staged.provider_message_id,
    attempt_started_at = staged.attempt_started_at,
    attempts = staged.attempts,
    error_code = staged.error_code,
    error_message = staged.error_message,
    sent_at = staged.sent_at,
    final_at = staged.final_at,
    updated_at = staged.updated_at
