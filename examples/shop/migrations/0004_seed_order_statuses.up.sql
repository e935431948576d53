-- Reference data: the statuses an order can be in. Inserting rows has no
-- derivable inverse, so 0004_seed_order_statuses.down.sql deletes exactly
-- these rows.
INSERT INTO order_statuses (code, label, is_final) VALUES
  ('pending',   'Pending payment', 0),
  ('paid',      'Paid',            0),
  ('shipped',   'Shipped',         0),
  ('delivered', 'Delivered',       1),
  ('cancelled', 'Cancelled',       1);
