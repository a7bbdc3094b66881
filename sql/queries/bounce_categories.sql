-- Bounced messages by provider and bounce category: why each message bounced (DESIGN.md,
-- "Bounce category"; from the same bounce that names its class), and each category's share
-- of the provider's bounced messages. A NULL category is a bounce stored before categories
-- existed.
WITH states AS (
    SELECT message_id, recipient,
           MIN(provider) AS provider,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) AS s
    FROM events
    WHERE message_id IS NOT NULL
    GROUP BY message_id, recipient
),
bounced AS (
    SELECT provider, get_field(s, 'bounce_category') AS bounce_category
    FROM states
    WHERE get_field(s, 'bounce_class') IS NOT NULL
)
SELECT provider, bounce_category,
       COUNT(*) AS messages,
       ROUND(CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY provider), 3) AS share
FROM bounced
GROUP BY provider, bounce_category
ORDER BY provider, bounce_category NULLS FIRST;
