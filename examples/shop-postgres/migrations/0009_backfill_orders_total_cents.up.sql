-- Backfill: compute every existing order's total from its lines.
-- Rewriting rows has no derivable inverse, hence the down file: before this
-- migration every total was the column default, 0 (0008 added the column and
-- nothing wrote to it until the triggers of 0010).
UPDATE orders
SET total_cents = (
  SELECT coalesce(sum(l.quantity * l.unit_price_cents), 0)
  FROM order_lines AS l
  WHERE l.order_id = orders.id
);
