-- The suppression list: every active suppression of every recipient, under the default
-- policy (hard bounces and complaints: scope all; unsubscribes: their stream until a later
-- resubscribe; 3 soft bounces within 7 days with no delivery between: scope all).
WITH per_recipient AS (
    SELECT recipient,
           recipient_suppressions(type, occurred_at, stream, event_key) AS suppressions
    FROM events
    WHERE recipient IS NOT NULL
    GROUP BY recipient
),
flat AS (
    SELECT recipient, unnest(suppressions) AS s FROM per_recipient
)
SELECT recipient,
       get_field(s, 'scope') AS scope,
       get_field(s, 'reason') AS reason,
       get_field(s, 'since') AS since,
       get_field(s, 'event_key') AS event_key
FROM flat
ORDER BY recipient, scope, reason;
