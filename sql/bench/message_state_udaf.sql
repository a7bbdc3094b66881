-- Message state with mailstate's `message_state` aggregate, flattened to the same columns as
-- message_state_handwritten.sql.
SELECT message_id,
       recipient,
       get_field(s, 'status') AS status,
       get_field(s, 'terminal') AS terminal,
       get_field(s, 'terminal_at') AS terminal_at,
       get_field(s, 'first_event_at') AS first_event_at,
       get_field(s, 'last_event_at') AS last_event_at,
       get_field(s, 'accepted_at') AS accepted_at,
       get_field(s, 'delivered_at') AS delivered_at,
       get_field(s, 'first_open_at') AS first_open_at,
       get_field(s, 'first_click_at') AS first_click_at,
       get_field(s, 'bounced_at') AS bounced_at,
       get_field(s, 'complained_at') AS complained_at,
       get_field(s, 'unsubscribed_at') AS unsubscribed_at,
       get_field(s, 'open_count') AS open_count,
       get_field(s, 'click_count') AS click_count,
       get_field(s, 'deferred_count') AS deferred_count,
       get_field(s, 'event_count') AS event_count,
       get_field(s, 'late_event_count') AS late_event_count,
       get_field(s, 'bounce_class') AS bounce_class,
       get_field(s, 'diagnostic') AS diagnostic
FROM (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL
    GROUP BY message_id, recipient
) AS states
