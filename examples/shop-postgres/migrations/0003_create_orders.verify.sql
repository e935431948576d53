-- Every column the application reads must exist.
SELECT code, label, is_final FROM order_statuses LIMIT 0;
SELECT id, customer_id, status, placed_at FROM orders LIMIT 0;
SELECT order_id, line_no, product_id, quantity, unit_price_cents FROM order_lines LIMIT 0;
