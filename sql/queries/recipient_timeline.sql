-- Support timeline of one recipient: every stored event (retries included) in time order,
-- with the message's status after it, whether it changed that status, whether it was a
-- retry of an event already stored, and whether it came after the message had ended (late).
-- Change the address on the next line.
WITH params AS (SELECT 'bob@example.net' AS recipient),
ev AS (
    SELECT e.* FROM events e JOIN params p ON e.recipient = p.recipient
),
running AS (
    SELECT message_id, occurred_at, event_key, provider, type, provider_type,
           ROW_NUMBER() OVER (PARTITION BY message_id, event_key ORDER BY occurred_at) > 1
               AS retry,
           get_field(
               message_state(type, occurred_at, event_key, bounce_class, diagnostic) OVER (
                   PARTITION BY message_id ORDER BY occurred_at, event_key
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               'status') AS status_after
    FROM ev
),
final AS (
    SELECT message_id,
           get_field(message_state(type, occurred_at, event_key, bounce_class, diagnostic),
                     'terminal_at') AS terminal_at
    FROM ev
    GROUP BY message_id
)
SELECT r.occurred_at,
       r.message_id,
       r.provider,
       r.type,
       r.provider_type,
       r.status_after,
       LAG(r.status_after) OVER (
           PARTITION BY r.message_id ORDER BY r.occurred_at, r.event_key, r.retry
       ) IS DISTINCT FROM r.status_after AS changed_state,
       r.retry,
       COALESCE(r.occurred_at > f.terminal_at, false) AS late
FROM running r JOIN final f ON r.message_id = f.message_id
ORDER BY r.occurred_at, r.event_key, r.retry;
