-- One row per order with its customer, number of lines and total.
-- The inverse (DROP VIEW) is derived.
CREATE VIEW order_totals AS
SELECT o.id                                                AS order_id,
       c.name                                              AS customer,
       o.status                                            AS status,
       o.placed_at                                         AS placed_at,
       count(l.line_no)                                    AS lines,
       coalesce(sum(l.quantity * l.unit_price_cents), 0)   AS total_cents
FROM orders AS o
JOIN customers AS c ON c.id = o.customer_id
LEFT JOIN order_lines AS l ON l.order_id = o.id
GROUP BY o.id, c.name;
