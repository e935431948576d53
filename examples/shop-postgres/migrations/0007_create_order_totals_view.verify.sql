SELECT order_id, customer, status, placed_at, lines, total_cents FROM order_totals LIMIT 0;
