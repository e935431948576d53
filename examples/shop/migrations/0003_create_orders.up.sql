-- Orders and their lines, plus the lookup table of order statuses.
-- Foreign keys tie an order to its customer and status, and a line to its
-- order and product. A line keeps the unit price it was sold at, since the
-- catalogue price may change later.
-- Quantities and prices are bounded, so that an order's total (the sum of
-- quantity * unit price over its lines) always fits a 64-bit integer.
-- Purely additive: strata derives the inverse, dropping the indexes and
-- tables in reverse order.
CREATE TABLE order_statuses (
  code     TEXT PRIMARY KEY,
  label    TEXT NOT NULL,
  is_final INTEGER NOT NULL DEFAULT 0 CHECK (is_final IN (0, 1))
);

CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers (id),
  status      TEXT NOT NULL DEFAULT 'pending' REFERENCES order_statuses (code),
  placed_at   TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE order_lines (
  order_id         INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          INTEGER NOT NULL,
  product_id       INTEGER NOT NULL REFERENCES products (id),
  quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
  unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents BETWEEN 0 AND 100000000),
  PRIMARY KEY (order_id, line_no)
);

CREATE INDEX orders_customer_placed_idx ON orders (customer_id, placed_at);
CREATE INDEX order_lines_product_idx ON order_lines (product_id);
