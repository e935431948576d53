-- The product catalogue. Prices are kept in cents to stay exact.
-- Purely additive: the inverse (DROP TABLE) is derived.
CREATE TABLE products (
  id          BIGINT PRIMARY KEY,
  sku         TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
  active      BOOLEAN NOT NULL DEFAULT true
);
