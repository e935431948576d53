-- Store each order's total on the order itself. Filled in by 0009, kept
-- current by 0010. The inverse (DROP COLUMN) is derived.
ALTER TABLE orders ADD COLUMN total_cents BIGINT NOT NULL DEFAULT 0;
