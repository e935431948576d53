-- Remove exactly the statuses 0004 inserted (the table was empty before:
-- the inserts would have failed on a duplicate code otherwise).
DELETE FROM order_statuses
WHERE code IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
