-- Put every total back to the value it had before the backfill: the default.
UPDATE orders SET total_cents = 0;
