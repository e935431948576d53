-- Keep orders.total_cents equal to the sum of the order's lines whenever a
-- line is added, changed or removed (a changed line may move to another
-- order: the old amount comes off the old order, the new one goes on the new).
CREATE FUNCTION order_lines_keep_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE orders SET total_cents = total_cents - OLD.quantity * OLD.unit_price_cents
    WHERE id = OLD.order_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE orders SET total_cents = total_cents + NEW.quantity * NEW.unit_price_cents
    WHERE id = NEW.order_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER order_lines_total_after_insert AFTER INSERT ON order_lines
  FOR EACH ROW EXECUTE FUNCTION order_lines_keep_total();

CREATE TRIGGER order_lines_total_after_update
  AFTER UPDATE OF order_id, quantity, unit_price_cents ON order_lines
  FOR EACH ROW EXECUTE FUNCTION order_lines_keep_total();

CREATE TRIGGER order_lines_total_after_delete AFTER DELETE ON order_lines
  FOR EACH ROW EXECUTE FUNCTION order_lines_keep_total();
