-- The product catalogue. Prices are kept in cents to stay exact.
-- Purely additive: the inverse (DROP TABLE) is derived.
CREATE TABLE products (
  id          INTEGER PRIMARY KEY,
  sku         TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
