DROP TRIGGER order_lines_total_after_delete ON order_lines;
DROP TRIGGER order_lines_total_after_update ON order_lines;
DROP TRIGGER order_lines_total_after_insert ON order_lines;
DROP FUNCTION order_lines_keep_total();
