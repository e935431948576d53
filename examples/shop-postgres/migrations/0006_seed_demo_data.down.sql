-- Delete exactly the rows 0006 inserted, children first.
DELETE FROM order_lines WHERE order_id IN (1, 2, 3, 4);
DELETE FROM orders      WHERE id IN (1, 2, 3, 4);
DELETE FROM products    WHERE id IN (1, 2, 3, 4);
DELETE FROM customers   WHERE id IN (1, 2, 3);
