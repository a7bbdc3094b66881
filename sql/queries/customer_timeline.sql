-- Customer timeline: every message sent to one customer, in time order, with its state.
-- Change the address on the next line.
WITH params AS (SELECT 'ann@example.com' AS recipient),
states AS (
    SELECT e.message_id,
           MIN(e.provider) AS provider,
           MIN(e.stream) AS stream,
           message_state(e.type, e.occurred_at, e.event_key, e.bounce_class, e.diagnostic,
                         e.automated, e.bounce_category) AS s
    FROM events e JOIN params p ON e.recipient = p.recipient
    GROUP BY e.message_id
)
SELECT get_field(s, 'first_event_at') AS first_event_at,
       message_id,
       provider,
       stream,
       get_field(s, 'status') AS status,
       get_field(s, 'delivered_at') AS delivered_at,
       get_field(s, 'open_count') AS opens,
       get_field(s, 'click_count') AS clicks,
       get_field(s, 'event_count') AS events
FROM states
ORDER BY first_event_at, message_id;
