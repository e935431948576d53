-- Customers may leave a phone number for delivery questions. Optional, so
-- the column is nullable. The inverse (DROP COLUMN) is derived.
ALTER TABLE customers ADD COLUMN phone TEXT;
