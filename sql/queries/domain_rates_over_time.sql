-- Bounce and complaint rates per recipient domain and day (of the message's first event):
-- the trend behind worst_domains.sql. Messages with no event time are left out.
-- `mailstate report --by week` runs this file with 'week' in place of the 'day' marked
-- `/* bucket */`, and keeps the rows of the domains worst_domains.sql ranks.
WITH states AS (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL AND recipient IS NOT NULL
    GROUP BY message_id, recipient
)
SELECT split_part(recipient, '@', 2) AS domain,
       date_trunc('day' /* bucket */, get_field(s, 'first_event_at')) AS bucket,
       COUNT(*) AS messages,
       CAST(SUM(CASE WHEN get_field(s, 'bounced_at') IS NOT NULL THEN 1 ELSE 0 END) AS DOUBLE)
           / COUNT(*) AS bounce_rate,
       CAST(SUM(CASE WHEN get_field(s, 'complained_at') IS NOT NULL THEN 1 ELSE 0 END)
           AS DOUBLE) / COUNT(*) AS complaint_rate
FROM states
WHERE get_field(s, 'first_event_at') IS NOT NULL
GROUP BY split_part(recipient, '@', 2),
         date_trunc('day' /* bucket */, get_field(s, 'first_event_at'))
ORDER BY domain, bucket;
