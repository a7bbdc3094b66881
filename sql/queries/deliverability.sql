-- Deliverability by provider, recipient domain and day (of the message's first event):
-- the share of messages delivered, bounced (hard or soft), complained about and deferred;
-- the share opened and clicked by a person; and opens and clicks by people and by machines
-- (a provider's `automated` flag: privacy proxies, link scanners), with the machines' share
-- of them (NULL when there were none).
WITH states AS (
    SELECT message_id, recipient,
           MIN(provider) AS provider,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) AS s
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
           CASE WHEN get_field(s, 'deferred_count') > 0 THEN 1.0 ELSE 0.0 END AS deferred,
           CASE WHEN get_field(s, 'first_open_at') IS NOT NULL THEN 1.0 ELSE 0.0 END AS opened,
           CASE WHEN get_field(s, 'first_click_at') IS NOT NULL THEN 1.0 ELSE 0.0 END AS clicked,
           get_field(s, 'open_count') - get_field(s, 'automated_open_count') AS people_opens,
           get_field(s, 'automated_open_count') AS machine_opens,
           get_field(s, 'click_count') - get_field(s, 'automated_click_count') AS people_clicks,
           get_field(s, 'automated_click_count') AS machine_clicks
    FROM states
)
SELECT provider, domain, day,
       COUNT(*) AS messages,
       ROUND(AVG(delivered), 3) AS delivery_rate,
       ROUND(AVG(bounced), 3) AS bounce_rate,
       ROUND(AVG(complained), 3) AS complaint_rate,
       ROUND(AVG(deferred), 3) AS deferral_rate,
       ROUND(AVG(opened), 3) AS open_rate,
       ROUND(AVG(clicked), 3) AS click_rate,
       SUM(people_opens) AS people_opens,
       SUM(machine_opens) AS machine_opens,
       ROUND(CAST(SUM(machine_opens) AS DOUBLE)
             / NULLIF(SUM(people_opens) + SUM(machine_opens), 0), 3) AS machine_open_share,
       SUM(people_clicks) AS people_clicks,
       SUM(machine_clicks) AS machine_clicks,
       ROUND(CAST(SUM(machine_clicks) AS DOUBLE)
             / NULLIF(SUM(people_clicks) + SUM(machine_clicks), 0), 3) AS machine_click_share
FROM m
GROUP BY provider, domain, day
ORDER BY provider, domain, day;
