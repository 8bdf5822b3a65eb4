-- Issue 22 (i22b): phone numbers live in contact.phone_numbers only; core.contacts,
-- outreach.messages and outreach.opt_outs hold the number's random key (phone_key) instead of
-- phone_e164. A warehouse built before it has phone_e164 in the three tables: every number is
-- given a key in contact.phone_numbers (insert-only on the number, GENERATE_UUID as
-- sql/contact/phone_numbers/add.sql does), each row gets its number's key, and the old column is
-- made NULLABLE (the new release writes no number there). The old column and its values stay
-- (migrations never drop: docs/schema_migrations.md); erasing them is a deployment step once the
-- upgrade is checked (docs/schema_migrations.md, "The migrations so far").
-- Every step that reads phone_e164 runs only where the table has it (the "-- if column:" guards): a fresh
-- warehouse, created with phone_key, skips them. Safe twice: the MERGEs insert missing numbers
-- only, the UPDATEs fill keys still NULL only. The reads of core.contacts read every week, once
-- (the constant filter is there for tables with require_partition_filter).
-- Needs the rights on the contact dataset (the outreach service account's or the deployer's):
-- run "python -m retention.migrations apply" with them at the deployment.

-- 1. Every number gets a key (the table and its dataset first, as the release creates them).
-- if column: core.contacts.phone_e164
-- table: contact/phone_numbers/create.sql
-- if column: core.contacts.phone_e164
MERGE `{{ contact }}.phone_numbers` AS target
USING (
  SELECT contacts.phone_e164, MIN(contacts.snapshot_date) AS first_seen_date
  FROM `{{ core }}.contacts` AS contacts
  WHERE contacts.snapshot_date >= DATE '1900-01-01' AND contacts.phone_e164 IS NOT NULL
  GROUP BY contacts.phone_e164
) AS received
ON target.phone_e164 = received.phone_e164
WHEN NOT MATCHED THEN
  INSERT (phone_key, phone_e164, first_seen_date, first_seen_load_id, added_at)
  VALUES (GENERATE_UUID(), received.phone_e164, received.first_seen_date, 'migration 0003', CURRENT_TIMESTAMP());
-- if column: outreach.messages.phone_e164
-- table: contact/phone_numbers/create.sql
-- if column: outreach.messages.phone_e164
MERGE `{{ contact }}.phone_numbers` AS target
USING (
  SELECT messages.phone_e164, MIN(messages.snapshot_date) AS first_seen_date
  FROM `{{ outreach }}.messages` AS messages
  WHERE messages.phone_e164 IS NOT NULL
  GROUP BY messages.phone_e164
) AS received
ON target.phone_e164 = received.phone_e164
WHEN NOT MATCHED THEN
  INSERT (phone_key, phone_e164, first_seen_date, first_seen_load_id, added_at)
  VALUES (GENERATE_UUID(), received.phone_e164, received.first_seen_date, 'migration 0003', CURRENT_TIMESTAMP());
-- if column: outreach.opt_outs.phone_e164
-- table: contact/phone_numbers/create.sql
-- if column: outreach.opt_outs.phone_e164
MERGE `{{ contact }}.phone_numbers` AS target
USING (
  SELECT opt_outs.phone_e164, MIN(DATE(opt_outs.recorded_at, 'Asia/Seoul')) AS first_seen_date
  FROM `{{ outreach }}.opt_outs` AS opt_outs
  WHERE opt_outs.phone_e164 IS NOT NULL
  GROUP BY opt_outs.phone_e164
) AS received
ON target.phone_e164 = received.phone_e164
WHEN NOT MATCHED THEN
  INSERT (phone_key, phone_e164, first_seen_date, first_seen_load_id, added_at)
  VALUES (GENERATE_UUID(), received.phone_e164, received.first_seen_date, 'migration 0003', CURRENT_TIMESTAMP());

-- 2. The key column (NULLABLE: ADD COLUMN cannot add a NOT NULL one; create.sql has NOT NULL).
ALTER TABLE `{{ core }}.contacts` ADD COLUMN IF NOT EXISTS phone_key STRING OPTIONS(description = 'Key of the Korean mobile number in contact.phone_numbers (outreach service account only).');
ALTER TABLE `{{ outreach }}.messages` ADD COLUMN IF NOT EXISTS phone_key STRING OPTIONS(description = 'Key of the number messaged, in contact.phone_numbers.');
ALTER TABLE `{{ outreach }}.opt_outs` ADD COLUMN IF NOT EXISTS phone_key STRING OPTIONS(description = 'Key of the unsubscribed number, in contact.phone_numbers: never messaged again.');

-- 3. Each row gets its number's key (MIN: two keys for one number are possible, as in publish.sql).
-- if column: core.contacts.phone_e164
UPDATE `{{ core }}.contacts` AS contacts
SET phone_key = numbers.phone_key
FROM (
  SELECT phone_e164, MIN(phone_key) AS phone_key FROM `{{ contact }}.phone_numbers` GROUP BY phone_e164
) AS numbers
WHERE contacts.snapshot_date >= DATE '1900-01-01' AND contacts.phone_key IS NULL
  AND contacts.phone_e164 = numbers.phone_e164;
-- if column: outreach.messages.phone_e164
UPDATE `{{ outreach }}.messages` AS messages
SET phone_key = numbers.phone_key
FROM (
  SELECT phone_e164, MIN(phone_key) AS phone_key FROM `{{ contact }}.phone_numbers` GROUP BY phone_e164
) AS numbers
WHERE messages.phone_key IS NULL AND messages.phone_e164 = numbers.phone_e164;
-- if column: outreach.opt_outs.phone_e164
UPDATE `{{ outreach }}.opt_outs` AS opt_outs
SET phone_key = numbers.phone_key
FROM (
  SELECT phone_e164, MIN(phone_key) AS phone_key FROM `{{ contact }}.phone_numbers` GROUP BY phone_e164
) AS numbers
WHERE opt_outs.phone_key IS NULL AND opt_outs.phone_e164 = numbers.phone_e164;

-- 4. The old column no longer required: the release inserts rows without a number there.
-- if column: core.contacts.phone_e164
ALTER TABLE `{{ core }}.contacts` ALTER COLUMN phone_e164 DROP NOT NULL;
-- if column: outreach.messages.phone_e164
ALTER TABLE `{{ outreach }}.messages` ALTER COLUMN phone_e164 DROP NOT NULL;
-- if column: outreach.opt_outs.phone_e164
ALTER TABLE `{{ outreach }}.opt_outs` ALTER COLUMN phone_e164 DROP NOT NULL;
