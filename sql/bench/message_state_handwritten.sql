-- Message state written by hand in portable SQL, with no mailstate function: the independent
-- formulation the tests compare `message_state` with, and the baseline of the benchmark
-- (it runs unchanged in DataFusion and DuckDB). It restates DESIGN.md's rules in SQL, which
-- is exactly what mailstate avoids elsewhere: it exists to check and to measure.
-- Retries are exact copies of an event (same key, same facts), so DISTINCT removes them.
WITH e AS (
    SELECT message_id, recipient, event_key, type, occurred_at, bounce_class, diagnostic,
           CASE type
               WHEN 'complaint' THEN 10 WHEN 'hard_bounce' THEN 9 WHEN 'unsubscribe' THEN 8
               WHEN 'rejected' THEN 7 WHEN 'click' THEN 6 WHEN 'open' THEN 5
               WHEN 'delivered' THEN 4 WHEN 'soft_bounce' THEN 3 WHEN 'deferred' THEN 2
               WHEN 'accepted' THEN 1 WHEN 'unknown' THEN 0
           END AS rnk
    FROM (
        SELECT DISTINCT message_id, recipient, event_key, type, occurred_at, bounce_class,
                        diagnostic
        FROM events
        WHERE message_id IS NOT NULL
    ) AS distinct_events
),
w1 AS (
    SELECT *,
           MAX(rnk) OVER (PARTITION BY message_id, recipient) AS top,
           ROW_NUMBER() OVER (
               PARTITION BY message_id, recipient
               ORDER BY CASE type WHEN 'hard_bounce' THEN 0 WHEN 'soft_bounce' THEN 1 ELSE 2 END,
                        occurred_at NULLS FIRST, event_key
           ) AS bounce_pick
    FROM e
),
w2 AS (
    SELECT *,
           MIN(CASE WHEN rnk = top AND top >= 7 THEN occurred_at END)
               OVER (PARTITION BY message_id, recipient) AS t_at
    FROM w1
)
SELECT message_id,
       recipient,
       CASE MAX(top)
           WHEN 10 THEN 'complaint' WHEN 9 THEN 'hard_bounce' WHEN 8 THEN 'unsubscribe'
           WHEN 7 THEN 'rejected' WHEN 6 THEN 'click' WHEN 5 THEN 'open'
           WHEN 4 THEN 'delivered' WHEN 3 THEN 'soft_bounce' WHEN 2 THEN 'deferred'
           WHEN 1 THEN 'accepted' ELSE 'unknown'
       END AS status,
       COALESCE(MAX(top), 0) >= 7 AS terminal,
       MIN(t_at) AS terminal_at,
       MIN(occurred_at) AS first_event_at,
       MAX(occurred_at) AS last_event_at,
       MIN(CASE WHEN type = 'accepted' THEN occurred_at END) AS accepted_at,
       MIN(CASE WHEN type = 'delivered' THEN occurred_at END) AS delivered_at,
       MIN(CASE WHEN type = 'open' THEN occurred_at END) AS first_open_at,
       MIN(CASE WHEN type = 'click' THEN occurred_at END) AS first_click_at,
       MIN(CASE WHEN type IN ('hard_bounce', 'soft_bounce') THEN occurred_at END) AS bounced_at,
       MIN(CASE WHEN type = 'complaint' THEN occurred_at END) AS complained_at,
       MIN(CASE WHEN type = 'unsubscribe' THEN occurred_at END) AS unsubscribed_at,
       COUNT(CASE WHEN type = 'open' THEN 1 END) AS open_count,
       COUNT(CASE WHEN type = 'click' THEN 1 END) AS click_count,
       COUNT(CASE WHEN type = 'deferred' THEN 1 END) AS deferred_count,
       COUNT(*) AS event_count,
       COUNT(CASE WHEN occurred_at > t_at THEN 1 END) AS late_event_count,
       MAX(CASE WHEN bounce_pick = 1 AND type IN ('hard_bounce', 'soft_bounce')
                THEN bounce_class END) AS bounce_class,
       MAX(CASE WHEN bounce_pick = 1 AND type IN ('hard_bounce', 'soft_bounce')
                THEN diagnostic END) AS diagnostic
FROM w2
GROUP BY message_id, recipient
