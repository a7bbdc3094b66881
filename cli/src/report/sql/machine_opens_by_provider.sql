-- The share of opens made by machines (`automated` set: privacy proxies such as Apple Mail
-- Privacy Protection, link scanners), per provider, counting distinct open events. Needs the
-- `automated` column; the report runs it only when the table has it.
SELECT provider,
       COUNT(DISTINCT event_key) AS opens,
       COUNT(DISTINCT CASE WHEN automated IS NOT NULL THEN event_key END) AS machine_opens,
       CAST(COUNT(DISTINCT CASE WHEN automated IS NOT NULL THEN event_key END) AS DOUBLE)
           / COUNT(DISTINCT event_key) AS machine_share
FROM events
WHERE type = 'open'
GROUP BY provider
ORDER BY provider;
