-- An optional phone number for delivery questions. The inverse is derived.
ALTER TABLE customers ADD COLUMN phone TEXT;
