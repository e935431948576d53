-- Remove exactly the statuses 0004 inserted.
DELETE FROM order_statuses
WHERE code IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
