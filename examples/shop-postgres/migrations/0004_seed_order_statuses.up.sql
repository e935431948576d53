-- Reference data: the statuses an order can be in. Inserting rows has no
-- derivable inverse, so the down file deletes exactly these rows.
INSERT INTO order_statuses (code, label, is_final) VALUES
  ('pending',   'Pending payment', false),
  ('paid',      'Paid',            false),
  ('shipped',   'Shipped',         false),
  ('delivered', 'Delivered',       true),
  ('cancelled', 'Cancelled',       true);
