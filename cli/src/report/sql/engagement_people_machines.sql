-- Opens and clicks split into people and machines, per day (of the event): distinct open and
-- click events whose `automated` flag is null (people) or set (`privacy_proxy`, `scanner`:
-- machines). Needs the `automated` column, which only newer stores' events carry; the report
-- runs it only when the table has it. `mailstate report --by week` runs this file with 'week'
-- in place of the 'day' marked `/* bucket */`.
SELECT date_trunc('day' /* bucket */, occurred_at) AS bucket,
       COUNT(DISTINCT CASE WHEN type = 'open' AND automated IS NULL THEN event_key END)
           AS people_opens,
       COUNT(DISTINCT CASE WHEN type = 'open' AND automated IS NOT NULL THEN event_key END)
           AS machine_opens,
       COUNT(DISTINCT CASE WHEN type = 'click' AND automated IS NULL THEN event_key END)
           AS people_clicks,
       COUNT(DISTINCT CASE WHEN type = 'click' AND automated IS NOT NULL THEN event_key END)
           AS machine_clicks
FROM events
WHERE type IN ('open', 'click') AND occurred_at IS NOT NULL
GROUP BY date_trunc('day' /* bucket */, occurred_at)
ORDER BY bucket;
