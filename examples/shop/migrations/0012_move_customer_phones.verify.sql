-- customers.phone must be gone, and the numbers must be in customer_phones.
CREATE TEMP TABLE verify_0012 (
  phone_column_left INTEGER
    CONSTRAINT customers_phone_was_dropped CHECK (phone_column_left = 0)
);
INSERT INTO verify_0012 (phone_column_left)
SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'phone';
DROP TABLE temp.verify_0012;
SELECT customer_id, phone FROM customer_phones WHERE 0;
