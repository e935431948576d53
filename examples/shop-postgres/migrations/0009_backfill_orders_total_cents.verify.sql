-- Every order's stored total must equal the sum of its lines.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM orders AS o
             WHERE o.total_cents <> (SELECT coalesce(sum(l.quantity * l.unit_price_cents), 0)
                                     FROM order_lines AS l WHERE l.order_id = o.id)) THEN
    RAISE EXCEPTION 'an order total differs from the sum of its lines';
  END IF;
END $$;
