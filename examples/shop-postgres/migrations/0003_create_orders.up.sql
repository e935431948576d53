-- Orders and their lines, plus the lookup table of order statuses. A line
-- keeps the unit price it was sold at, since the catalogue price may change.
-- Quantities and prices are bounded, so that an order's total (the sum of
-- quantity * unit price over its lines) always fits a BIGINT.
-- Purely additive: strata derives the inverse.
CREATE TABLE order_statuses (
  code     TEXT PRIMARY KEY,
  label    TEXT NOT NULL,
  is_final BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE orders (
  id          BIGINT PRIMARY KEY,
  customer_id BIGINT NOT NULL REFERENCES customers (id),
  status      TEXT NOT NULL DEFAULT 'pending' REFERENCES order_statuses (code),
  placed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE order_lines (
  order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          INTEGER NOT NULL,
  product_id       BIGINT NOT NULL REFERENCES products (id),
  quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
  unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents BETWEEN 0 AND 100000000),
  PRIMARY KEY (order_id, line_no)
);

CREATE INDEX orders_customer_placed_idx ON orders (customer_id, placed_at);
CREATE INDEX order_lines_product_idx ON order_lines (product_id);
