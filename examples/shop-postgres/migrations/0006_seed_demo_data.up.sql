-- Sample customers, products and orders, so the example has something to
-- show. Every row has an explicit id, and
-- 0006_seed_demo_data.down.sql deletes exactly these ids.
INSERT INTO customers (id, email, name, phone, created_at) VALUES
  (1, 'ada@example.com',   'Ada Lovelace',    '+44 20 7946 0001', '2024-01-05 09:12:00'),
  (2, 'grace@example.com', 'Grace Hopper',    NULL,               '2024-01-06 14:30:00'),
  (3, 'alan@example.com',  'Alan Turing',     '+44 161 496 0002', '2024-02-11 18:45:00');

INSERT INTO products (id, sku, name, price_cents) VALUES
  (1, 'MUG-001',  'Enamel mug',          1250),
  (2, 'TEE-BLK-M', 'T-shirt, black, M',  2400),
  (3, 'NB-A5',    'Notebook, A5 dotted',  890),
  (4, 'STK-PACK', 'Sticker pack',         450);

INSERT INTO orders (id, customer_id, status, placed_at) VALUES
  (1, 1, 'delivered', '2024-02-01 10:00:00'),
  (2, 2, 'shipped',   '2024-02-14 16:20:00'),
  (3, 1, 'paid',      '2024-03-02 08:05:00'),
  (4, 3, 'pending',   '2024-03-03 21:40:00');

INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents) VALUES
  (1, 1, 1, 2, 1250),
  (1, 2, 4, 1,  450),
  (2, 1, 2, 1, 2400),
  (2, 2, 3, 3,  890),
  (3, 1, 3, 1,  890),
  (4, 1, 1, 1, 1250),
  (4, 2, 2, 2, 2400),
  (4, 3, 4, 5,  450);
