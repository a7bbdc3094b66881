-- Deliverability by provider, recipient domain and day (of the message's first event):
-- the share of messages delivered, bounced (hard or soft), complained about and deferred.
WITH states AS (
    SELECT message_id, recipient,
           MIN(provider) AS provider,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events
    WHERE message_id IS NOT NULL AND recipient IS NOT NULL
    GROUP BY message_id, recipient
),
m AS (
    SELECT provider,
           split_part(recipient, '@', 2) AS domain,
           CAST(get_field(s, 'first_event_at') AS DATE) AS day,
           CASE WHEN get_field(s, 'delivered_at') IS NOT NULL THEN 1.0 ELSE 0.0 END AS delivered,
           CASE WHEN get_field(s, 'bounced_at') IS NOT NULL THEN 1.0 ELSE 0.0 END AS bounced,
           CASE WHEN get_field(s, 'complained_at') IS NOT NULL THEN 1.0 ELSE 0.0 END AS complained,
           CASE WHEN get_field(s, 'deferred_count') > 0 THEN 1.0 ELSE 0.0 END AS deferred
    FROM states
)
SELECT provider, domain, day,
       COUNT(*) AS messages,
       ROUND(AVG(delivered), 3) AS delivery_rate,
       ROUND(AVG(bounced), 3) AS bounce_rate,
       ROUND(AVG(complained), 3) AS complaint_rate,
       ROUND(AVG(deferred), 3) AS deferral_rate
FROM m
GROUP BY provider, domain, day
ORDER BY provider, domain, day;
