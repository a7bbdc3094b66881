-- Support timeline of one recipient: every stored event in time order, with
--   status_after   the message's status once this event is counted (events taken in
--                  (occurred_at, event_key) order, so arrival order does not matter);
--   changed_state  whether this event changed that status (a retry, a deferral after
--                  delivery or an open after a bounce does not);
--   retry          whether it is another copy of an event already listed (same event_key);
--   late           whether it happened after the message had ended: after the terminal_at
--                  of the message's final state (DESIGN.md's late events).
-- Events about no message (null message_id) are listed too, together as one group.
-- Change the address on the next line.
WITH params AS (SELECT 'bob@example.net' AS recipient),
ev AS (
    SELECT e.* FROM events e JOIN params p ON e.recipient = p.recipient
),
marked AS (
    SELECT occurred_at, message_id, event_key, provider, type, provider_type,
           ROW_NUMBER() OVER (PARTITION BY message_id, event_key ORDER BY occurred_at) > 1
               AS retry,
           get_field(
               message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) OVER (
                   PARTITION BY message_id ORDER BY occurred_at NULLS FIRST, event_key
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               'status') AS status_after,
           get_field(
               message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) OVER (
                   PARTITION BY message_id),
               'terminal_at') AS terminal_at
    FROM ev
)
SELECT occurred_at,
       message_id,
       provider,
       type,
       provider_type,
       status_after,
       LAG(status_after) OVER (
           PARTITION BY message_id ORDER BY occurred_at NULLS FIRST, event_key, retry
       ) IS DISTINCT FROM status_after AS changed_state,
       retry,
       COALESCE(occurred_at > terminal_at, false) AS late
FROM marked
ORDER BY occurred_at NULLS FIRST, event_key, retry;
