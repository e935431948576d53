-- "name" was ambiguous next to products.name: call it what it holds.
-- The view order_totals follows the renamed column.
-- The inverse (renaming it back) is derived.
ALTER TABLE customers RENAME COLUMN name TO full_name;
