-- "name" was ambiguous next to products.name: call it what it holds.
-- SQLite also rewrites the view order_totals to use the new name.
-- The inverse (renaming it back) is derived.
ALTER TABLE customers RENAME COLUMN name TO full_name;
