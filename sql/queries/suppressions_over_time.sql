-- Active suppressions by the day they began and by reason (suppression_list.sql's rows,
-- counted): `hard_bounce`, `complaint`, `soft_bounces` (the soft-bounce threshold of the
-- default policy), and `unsubscribe stream:S` for each stream S. A suppression lifted
-- later (an unsubscribe followed by a resubscribe in its stream) is not counted: these are
-- the suppressions active after the last event of the table, by when they started.
-- `mailstate report --by week` runs this file with 'week' in place of the 'day' marked
-- `/* bucket */`.
WITH per_recipient AS (
    SELECT recipient,
           recipient_suppressions(type, occurred_at, stream, event_key) AS suppressions
    FROM events
    WHERE recipient IS NOT NULL
    GROUP BY recipient
),
flat AS (
    SELECT recipient, unnest(suppressions) AS s FROM per_recipient
),
labelled AS (
    SELECT recipient,
           CASE WHEN get_field(s, 'reason') = 'unsubscribe'
                THEN concat('unsubscribe ', get_field(s, 'scope'))
                ELSE get_field(s, 'reason') END AS reason,
           date_trunc('day' /* bucket */, get_field(s, 'since')) AS bucket
    FROM flat
)
SELECT bucket, reason,
       COUNT(*) AS suppressions,
       COUNT(DISTINCT recipient) AS recipients
FROM labelled
GROUP BY bucket, reason
ORDER BY bucket, reason;
