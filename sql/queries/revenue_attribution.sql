-- Revenue attribution: message state joined to the sends table (message_id, recipient,
-- campaign, sent_at, revenue). Per campaign: sends, how many were delivered and clicked,
-- total revenue, the revenue of clicked sends, and sends no event has been stored for yet.
-- "Clicked" means a person clicked: a link scanner's click (`automated`) leaves
-- `first_click_at` null.
WITH states AS (
    SELECT message_id, recipient,
           message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                         automated, bounce_category) AS s
    FROM events
    WHERE message_id IS NOT NULL
    GROUP BY message_id, recipient
)
SELECT sd.campaign,
       COUNT(*) AS sends,
       COUNT(get_field(st.s, 'delivered_at')) AS delivered,
       SUM(CASE WHEN get_field(st.s, 'first_click_at') IS NOT NULL THEN 1 ELSE 0 END) AS clicked,
       SUM(sd.revenue) AS revenue,
       SUM(CASE WHEN get_field(st.s, 'first_click_at') IS NOT NULL THEN sd.revenue ELSE 0 END)
           AS clicked_revenue,
       SUM(CASE WHEN st.message_id IS NULL THEN 1 ELSE 0 END) AS without_events
FROM sends sd
LEFT JOIN states st ON st.message_id = sd.message_id AND st.recipient = sd.recipient
GROUP BY sd.campaign
ORDER BY sd.campaign;
