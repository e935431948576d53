-- The view must compile against the current tables and have these columns.
SELECT order_id, customer, status, placed_at, lines, total_cents FROM order_totals WHERE 0;
