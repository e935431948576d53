-- Customers of the shop (PostgreSQL edition of examples/shop). An email
-- address identifies a customer, so it gets a unique index. Purely additive:
-- strata derives the inverse (DROP INDEX, then DROP TABLE).
CREATE TABLE customers (
  id         BIGINT PRIMARY KEY,
  email      TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX customers_email_key ON customers (email);
