-- Move phone numbers out of customers into their own table, so that a
-- customer can later have several. Destructive (it drops customers.phone),
-- so it has a down file that moves every number back: customers with no
-- phone get no row here, and get NULL back.
CREATE TABLE customer_phones (
  customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
  phone       TEXT NOT NULL
);

INSERT INTO customer_phones (customer_id, phone)
SELECT id, phone FROM customers WHERE phone IS NOT NULL;

ALTER TABLE customers DROP COLUMN phone;
