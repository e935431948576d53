-- Every column the application reads must exist: selecting them (and no
-- rows) fails if one is missing or misspelt.
SELECT code, label, is_final FROM order_statuses WHERE 0;
SELECT id, customer_id, status, placed_at FROM orders WHERE 0;
SELECT order_id, line_no, product_id, quantity, unit_price_cents FROM order_lines WHERE 0;
