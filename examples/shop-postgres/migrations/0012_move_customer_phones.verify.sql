-- customers.phone must be gone, and the numbers must be in customer_phones.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'customers'
               AND column_name = 'phone') THEN
    RAISE EXCEPTION 'customers.phone was not dropped';
  END IF;
END $$;
SELECT customer_id, phone FROM customer_phones LIMIT 0;
