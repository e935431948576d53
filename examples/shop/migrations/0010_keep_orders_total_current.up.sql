-- Keep orders.total_cents equal to the sum of the order's lines whenever a
-- line is added, changed or removed. A changed line may even move to another
-- order, so the update trigger takes the old amount off the old order and
-- adds the new amount to the new one.
-- Purely additive: the inverse (three DROP TRIGGER) is derived.
CREATE TRIGGER order_lines_total_after_insert
AFTER INSERT ON order_lines
BEGIN
  UPDATE orders SET total_cents = total_cents + NEW.quantity * NEW.unit_price_cents
  WHERE id = NEW.order_id;
END;

CREATE TRIGGER order_lines_total_after_update
AFTER UPDATE OF order_id, quantity, unit_price_cents ON order_lines
BEGIN
  UPDATE orders SET total_cents = total_cents - OLD.quantity * OLD.unit_price_cents
  WHERE id = OLD.order_id;
  UPDATE orders SET total_cents = total_cents + NEW.quantity * NEW.unit_price_cents
  WHERE id = NEW.order_id;
END;

CREATE TRIGGER order_lines_total_after_delete
AFTER DELETE ON order_lines
BEGIN
  UPDATE orders SET total_cents = total_cents - OLD.quantity * OLD.unit_price_cents
  WHERE id = OLD.order_id;
END;
