-- Delivery, bounce (hard / soft / block), complaint and deferral rates per provider and day
-- (the day of the message's first event): how many messages, how many of them reached each
-- outcome, and that count's share of the messages. A message (message_id, recipient) counts
-- once per outcome its state records (DESIGN.md): delivered (delivered_at), bounced
-- (bounced_at, split by the state's bounce_class: hard, soft, block; `undetermined` or none
-- gives bounced_other), complained (complained_at), deferred (at least one deferral).
-- Messages with no event time are left out. `mailstate report --by week` runs this file with
-- 'week' in place of the 'day' marked `/* bucket */`.
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
           date_trunc('day' /* bucket */, get_field(s, 'first_event_at')) AS bucket,
           CASE WHEN get_field(s, 'delivered_at') IS NOT NULL THEN 1 ELSE 0 END AS delivered,
           CASE WHEN get_field(s, 'bounced_at') IS NOT NULL
                     AND get_field(s, 'bounce_class') = 'hard' THEN 1 ELSE 0 END AS hard,
           CASE WHEN get_field(s, 'bounced_at') IS NOT NULL
                     AND get_field(s, 'bounce_class') = 'soft' THEN 1 ELSE 0 END AS soft,
           CASE WHEN get_field(s, 'bounced_at') IS NOT NULL
                     AND get_field(s, 'bounce_class') = 'block' THEN 1 ELSE 0 END AS block,
           CASE WHEN get_field(s, 'bounced_at') IS NOT NULL
                     AND COALESCE(get_field(s, 'bounce_class'), 'undetermined')
                         NOT IN ('hard', 'soft', 'block') THEN 1 ELSE 0 END AS bounced_other,
           CASE WHEN get_field(s, 'complained_at') IS NOT NULL THEN 1 ELSE 0 END AS complained,
           CASE WHEN get_field(s, 'deferred_count') > 0 THEN 1 ELSE 0 END AS deferred
    FROM states
    WHERE get_field(s, 'first_event_at') IS NOT NULL
)
SELECT provider, bucket,
       COUNT(*) AS messages,
       SUM(delivered) AS delivered,
       SUM(hard) AS hard_bounced,
       SUM(soft) AS soft_bounced,
       SUM(block) AS blocked,
       SUM(bounced_other) AS bounced_other,
       SUM(complained) AS complained,
       SUM(deferred) AS deferred,
       CAST(SUM(delivered) AS DOUBLE) / COUNT(*) AS delivery_rate,
       CAST(SUM(hard) AS DOUBLE) / COUNT(*) AS hard_bounce_rate,
       CAST(SUM(soft) AS DOUBLE) / COUNT(*) AS soft_bounce_rate,
       CAST(SUM(block) AS DOUBLE) / COUNT(*) AS block_rate,
       CAST(SUM(complained) AS DOUBLE) / COUNT(*) AS complaint_rate,
       CAST(SUM(deferred) AS DOUBLE) / COUNT(*) AS deferral_rate
FROM m
GROUP BY provider, bucket
ORDER BY bucket, provider;
