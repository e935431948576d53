-- Every order's stored total must equal the sum of its lines.
-- SQLite has no ASSERT statement: a CHECK constraint on a scratch TEMP table
-- turns "this count must be 0" into an error that names the rule broken.
CREATE TEMP TABLE verify_0009 (
  wrong_totals INTEGER
    CONSTRAINT every_order_total_equals_the_sum_of_its_lines CHECK (wrong_totals = 0)
);
INSERT INTO verify_0009 (wrong_totals)
SELECT count(*)
FROM orders AS o
WHERE o.total_cents <> (SELECT coalesce(sum(l.quantity * l.unit_price_cents), 0)
                        FROM order_lines AS l
                        WHERE l.order_id = o.id);
DROP TABLE temp.verify_0009;
