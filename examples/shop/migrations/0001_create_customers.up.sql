-- Customers of the shop. An email address identifies a customer, so it gets a
-- unique index. Purely additive: no down file, strata derives the inverse
-- (DROP INDEX, then DROP TABLE).
CREATE TABLE customers (
  id         INTEGER PRIMARY KEY,
  email      TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE UNIQUE INDEX customers_email_key ON customers (email);
