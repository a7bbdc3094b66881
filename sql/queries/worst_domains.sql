-- The recipient domains with the worst bounce and complaint rates over the whole table: per
-- domain, its messages (message_id, recipient), how many bounced (hard or soft) and drew a
-- complaint, both rates, and the domain's rank by each rate (1 = worst; by rate, then by
-- messages, then by name; null when the domain had no bounce, or no complaint). Only domains
-- ranked in the top 10 of either list are returned.
WITH states AS (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL AND recipient IS NOT NULL
    GROUP BY message_id, recipient
),
d AS (
    SELECT split_part(recipient, '@', 2) AS domain,
           COUNT(*) AS messages,
           SUM(CASE WHEN get_field(s, 'bounced_at') IS NOT NULL THEN 1 ELSE 0 END) AS bounced,
           SUM(CASE WHEN get_field(s, 'complained_at') IS NOT NULL THEN 1 ELSE 0 END)
               AS complained
    FROM states
    GROUP BY split_part(recipient, '@', 2)
),
ranked AS (
    SELECT domain, messages, bounced, complained,
           CAST(bounced AS DOUBLE) / messages AS bounce_rate,
           CAST(complained AS DOUBLE) / messages AS complaint_rate,
           CASE WHEN bounced > 0 THEN ROW_NUMBER() OVER (
               ORDER BY bounced > 0 DESC, CAST(bounced AS DOUBLE) / messages DESC,
                        messages DESC, domain) END AS bounce_rank,
           CASE WHEN complained > 0 THEN ROW_NUMBER() OVER (
               ORDER BY complained > 0 DESC, CAST(complained AS DOUBLE) / messages DESC,
                        messages DESC, domain) END AS complaint_rank
    FROM d
)
SELECT domain, messages, bounced, complained, bounce_rate, complaint_rate, bounce_rank,
       complaint_rank
FROM ranked
WHERE bounce_rank <= 10 OR complaint_rank <= 10
ORDER BY bounce_rank NULLS LAST, complaint_rank NULLS LAST, domain;
