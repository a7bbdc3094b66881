-- The state of every message to every recipient (DESIGN.md's fields, from core's rules):
-- opens counts every distinct open, machine_opens those a provider flagged `automated`
-- (their status stays below `open` when no person opened).
SELECT message_id,
       recipient,
       get_field(s, 'status') AS status,
       get_field(s, 'terminal') AS terminal,
       get_field(s, 'event_count') AS events,
       get_field(s, 'late_event_count') AS late,
       get_field(s, 'open_count') AS opens,
       get_field(s, 'automated_open_count') AS machine_opens,
       get_field(s, 'bounce_class') AS bounce_class,
       get_field(s, 'bounce_category') AS bounce_category
FROM (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) AS s
    FROM events
    WHERE message_id IS NOT NULL
    GROUP BY message_id, recipient
)
ORDER BY message_id, recipient;
