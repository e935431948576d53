-- Store each order's total on the order itself, so listing orders does not
-- have to sum their lines. Filled in by 0009, kept current by 0010.
-- The inverse (DROP COLUMN) is derived.
ALTER TABLE orders ADD COLUMN total_cents INTEGER NOT NULL DEFAULT 0;
