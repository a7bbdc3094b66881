-- Bounces by category (`bounce_category`: invalid_recipient, mailbox_full, mailbox_disabled,
-- domain_error, blocked, policy, content, expired, auto_reply, other; `(none)` when the event
-- carries none): distinct hard and soft bounce events, and the messages they belong to. Needs
-- the `bounce_category` column; the report runs it only when the table has it.
SELECT COALESCE(bounce_category, '(none)') AS bounce_category,
       COUNT(DISTINCT event_key) AS bounces,
       COUNT(DISTINCT concat(message_id, ' ', recipient)) AS messages
FROM events
WHERE type IN ('hard_bounce', 'soft_bounce')
GROUP BY COALESCE(bounce_category, '(none)')
ORDER BY bounces DESC, bounce_category;
