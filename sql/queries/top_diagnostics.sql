-- The ten most frequent bounce diagnostics (the remote server's text, from the earliest event
-- of the message's highest-ranked bounce type, DESIGN.md), with how many bounced messages
-- carry each and their bounce class. Bounced messages without a diagnostic are counted as
-- `(none)`.
WITH states AS (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL AND recipient IS NOT NULL
    GROUP BY message_id, recipient
)
SELECT COALESCE(get_field(s, 'diagnostic'), '(none)') AS diagnostic,
       COALESCE(get_field(s, 'bounce_class'), 'undetermined') AS bounce_class,
       COUNT(*) AS messages
FROM states
WHERE get_field(s, 'bounced_at') IS NOT NULL
GROUP BY COALESCE(get_field(s, 'diagnostic'), '(none)'),
         COALESCE(get_field(s, 'bounce_class'), 'undetermined')
ORDER BY messages DESC, diagnostic, bounce_class
LIMIT 10;
