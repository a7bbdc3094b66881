-- What the store absorbed, per provider: its rows, their distinct event keys, the rows that
-- repeat a key already in the table (counted once by message_state; an ingested store has
-- none, since ingest skips them, while `mailstate generate` writes retried copies), and the
-- late events of its messages (message_state's late_event_count: distinct events after the
-- message's terminal event, such as an open after a hard bounce).
WITH per_provider AS (
    SELECT provider,
           COUNT(*) AS rows,
           COUNT(DISTINCT event_key) AS distinct_events
    FROM events
    GROUP BY provider
),
states AS (
    SELECT MIN(provider) AS provider,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL AND recipient IS NOT NULL
    GROUP BY message_id, recipient
),
late AS (
    SELECT provider,
           COUNT(*) AS messages,
           SUM(get_field(s, 'late_event_count')) AS late_events,
           SUM(CASE WHEN get_field(s, 'late_event_count') > 0 THEN 1 ELSE 0 END)
               AS messages_with_late_events
    FROM states
    GROUP BY provider
)
SELECT p.provider,
       p.rows,
       p.distinct_events,
       p.rows - p.distinct_events AS duplicate_rows,
       COALESCE(l.messages, 0) AS messages,
       COALESCE(l.late_events, 0) AS late_events,
       COALESCE(l.messages_with_late_events, 0) AS messages_with_late_events
FROM per_provider p
LEFT JOIN late l ON l.provider = p.provider
ORDER BY p.provider;
