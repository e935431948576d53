#!/usr/bin/env bash
# Strata in five minutes, on SQLite: installs what is needed, builds strata,
# then, in a fresh temporary directory, applies the example shop migrations
# (examples/shop/migrations), rolls them back partly and fully, re-applies
# them, and proves that the schema and the data came back exactly as they
# were. Then it shows two safety refusals: an irreversible migration and
# an applied migration whose file was edited afterwards. Finally it rehearses
# migrations on a sandbox copy seeded with 10,000 rows per table.
#
# Usage: bash scripts/demo.sh            (as root on a fresh Debian 12 machine)
#        STRATA_BIN=path/to/strata bash scripts/demo.sh
#                                        (use that binary; skip setup and build)
# Exits 0 only when every step behaved as expected.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
examples="$root/examples/shop/migrations"

if [ -z "${STRATA_BIN:-}" ]; then
  echo "== 0. install packages and build strata"
  bash "$root/scripts/setup.sh"
  bash "$root/scripts/build.sh" build
fi
STRATA_BIN=${STRATA_BIN:-$root/build/strata}
case "$STRATA_BIN" in /*) ;; *) STRATA_BIN="$PWD/$STRATA_BIN" ;; esac
if [ ! -x "$STRATA_BIN" ]; then
  echo "demo: FAILED: no strata binary at $STRATA_BIN" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

step_no=0
checks=0
step() {
  step_no=$((step_no + 1))
  printf '\n== %d. %s\n' "$step_no" "$*"
}
fail() {
  echo "demo: FAILED: $*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  echo "   ok: $*"
}

# strata WANT_EXIT ARGS...: shows "$ strata ARGS", runs it, shows its output
# (stdout and stderr), and fails the demo unless it exits with WANT_EXIT.
# The output is kept in $out for further checks.
out=""
strata() {
  local want=$1
  shift
  echo "\$ strata $*"
  local rc=0
  out=$("$STRATA_BIN" "$@" 2>&1) || rc=$?
  if [ -n "$out" ]; then printf '%s\n' "$out"; fi
  if [ "$want" -ne 0 ] || [ "$rc" -ne 0 ]; then echo "(exit code $rc)"; fi
  [ "$rc" -eq "$want" ] || fail "\`strata $*\` exited with $rc, expected $want"
}
# expect TEXT WHAT: the last strata output must contain TEXT.
expect() {
  grep -qF -- "$1" <<<"$out" || fail "expected the output to contain \"$1\""
  ok "$2"
}
sql() {
  echo "\$ sqlite3 app.db \"$*\""
  sqlite3 -header -column app.db "$@"
}
# Tables the migrations own (not strata's own strata_* tables, not SQLite's).
user_tables() {
  sqlite3 app.db "SELECT name FROM sqlite_schema WHERE type = 'table'
                  AND name NOT LIKE 'strata\_%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
                  ORDER BY name"
}
# Row counts of every user table, and every row of each, in a stable order.
save_counts() {
  local t
  for t in $(user_tables); do
    printf '%-16s %s rows\n' "$t" "$(sqlite3 app.db "SELECT count(*) FROM \"$t\"")"
  done >"$1"
}
save_rows() {
  local t
  for t in $(user_tables); do
    echo "-- $t"
    sqlite3 app.db "SELECT * FROM \"$t\" ORDER BY 1, 2"
  done >"$1"
}

total=$(find "$examples" -name '*.up.sql' | wc -l)
[ "$total" -gt 0 ] || fail "no migrations in $examples"

step "a new project in $work, with the example shop migrations"
strata 0 --database sqlite:app.db init
cat strata.toml
cp "$examples"/*.sql migrations/
echo "\$ ls migrations"
ls migrations

step "validate the migration files (names, SQL, a way back for each)"
strata 0 validate
expect "$total migrations checked: 0 errors" "all $total migrations are valid"

step "status: nothing applied yet"
strata 0 status
expect "0 applied, $total pending" "$total migrations pending"

step "plan the first three without running them (up --dry-run --to 3)"
# 0001-0003 have no down file: the plan shows the inverse strata derives.
strata 0 up --dry-run --to 3
expect "dry run: 3 migrations would be applied" "the plan has 3 migrations"
[ -z "$(user_tables)" ] || fail "the dry run created tables: $(user_tables | tr '\n' ' ')"
ok "the dry run changed nothing"

step "apply all migrations"
strata 0 up
expect "applied $total migrations" "$total migrations applied"
strata 0 status
expect "$total applied, 0 pending" "status agrees"
sqlite3 app.db .schema >schema-first.sql
save_counts counts-first.txt
save_rows rows-first.txt

step "look at the data: the order_totals view and the stored totals"
sql "SELECT order_id, customer, status, lines, total_cents FROM order_totals ORDER BY order_id"
sql "SELECT c.full_name, p.phone FROM customers AS c LEFT JOIN customer_phones AS p ON p.customer_id = c.id ORDER BY c.id"
mismatch=$(sqlite3 app.db "SELECT count(*) FROM orders AS o JOIN order_totals AS t ON t.order_id = o.id
                           WHERE o.total_cents <> t.total_cents")
[ "$mismatch" = 0 ] || fail "$mismatch orders have a stored total that differs from the view"
ok "every stored total equals the view's"

step "roll back the newest 4 (first the plan: the down scripts stored at apply time)"
strata 0 down --steps 4 --dry-run
expect "dry run: 4 migrations would be rolled back" "the plan has 4 migrations"
strata 0 down --steps 4
expect "rolled back 4 migrations" "4 migrations rolled back"
strata 0 status
expect "$((total - 4)) applied, 4 pending" "status agrees"
echo "customers.phone is back, with the numbers moved back from customer_phones:"
sql "SELECT id, name, phone FROM customers ORDER BY id"
phones=$(sqlite3 app.db "SELECT count(phone) FROM customers")
[ "$phones" = 2 ] || fail "expected 2 phone numbers back in customers.phone, found $phones"
ok "both phone numbers are back, and the customer without one has NULL"

step "apply them again"
strata 0 up
expect "applied 4 migrations" "4 migrations applied"
strata 0 status
expect "$total applied, 0 pending" "status agrees"

step "roll back everything (down --to 0): no trace may be left"
strata 0 down --to 0
expect "rolled back $total migrations" "$total migrations rolled back"
echo "\$ sqlite3 app.db .tables"
sqlite3 app.db .tables
left=$(sqlite3 app.db "SELECT type || ' ' || name FROM sqlite_schema
                       WHERE name NOT LIKE 'strata\_%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'")
[ -z "$left" ] || fail "objects left after rolling back everything: $(tr '\n' ' ' <<<"$left")"
ok "only strata's own bookkeeping tables remain"
strata 0 status
expect "0 applied, $total pending" "status agrees"

step "apply everything again, and compare with the first apply"
strata 0 up
expect "applied $total migrations" "$total migrations applied"
sqlite3 app.db .schema >schema-again.sql
save_counts counts-again.txt
save_rows rows-again.txt
echo "\$ diff schema-first.sql schema-again.sql"
diff schema-first.sql schema-again.sql || fail "the schema after re-applying differs from the first apply"
ok "same schema ($(grep -c '^CREATE' schema-again.sql) CREATE statements)"
echo "\$ diff counts-first.txt counts-again.txt"
diff counts-first.txt counts-again.txt || fail "row counts after re-applying differ from the first apply"
cat counts-again.txt
ok "same row counts"
diff rows-first.txt rows-again.txt || fail "the rows after re-applying differ from the first apply"
ok "same rows, value for value"

step "safety: a migration with no way back is refused (exit code 5)"
mkdir unsafe
cp migrations/*.sql unsafe/
cat >unsafe/0099_purge_cancelled_orders.up.sql <<'EOF'
-- Deletes rows and has no down file: nothing can bring them back.
DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE status = 'cancelled');
DELETE FROM orders WHERE status = 'cancelled';
EOF
echo "(a copy of the migrations plus unsafe/0099_purge_cancelled_orders.up.sql, which deletes rows and has no down file)"
strata 5 --dir unsafe up
expect "0099_purge_cancelled_orders" "refused, naming the migration"
strata 0 status
expect "$total applied, 0 pending" "nothing was applied"

step "safety: an applied migration edited afterwards is reported (exit code 7)"
mkdir edited
cp migrations/*.sql edited/
sed -i 's/ADD COLUMN phone TEXT;/ADD COLUMN phone TEXT NOT NULL DEFAULT '"''"';/' edited/0005_add_customers_phone.up.sql
cmp -s migrations/0005_add_customers_phone.up.sql edited/0005_add_customers_phone.up.sql &&
  fail "the edit of edited/0005_add_customers_phone.up.sql did not take"
echo "(a copy of the migrations in which edited/0005_add_customers_phone.up.sql was changed)"
strata 7 --dir edited status
expect "changed" "the edited migration is reported as changed"
strata 7 --dir edited up
ok "up refuses to run while history and files disagree"

step "lossless rollback: a migration that deletes rows, rolled back with every row restored"
mkdir purge
cp migrations/*.sql purge/
cat >purge/0099_purge_delivered_orders.up.sql <<'EOF'
-- Deletes the delivered orders and their lines.
DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE status = 'delivered');
DELETE FROM orders WHERE status = 'delivered';
EOF
cat >purge/0099_purge_delivered_orders.down.sql <<'EOF'
-- Nothing to write: strata captured the deleted rows before the DELETEs ran
-- and puts them back after this script.
EOF
echo "(a copy of the migrations plus purge/0099_purge_delivered_orders, whose down script is empty)"
strata 0 fingerprint --data
data_before=$out
rows_before=$(sqlite3 app.db "SELECT count(*) FROM orders")
strata 0 --dir purge up
sql "SELECT status, count(*) AS orders FROM orders GROUP BY status"
[ "$(sqlite3 app.db "SELECT count(*) FROM orders WHERE status = 'delivered'")" -eq 0 ] ||
  fail "0099 did not delete the delivered orders"
ok "0099 deleted the delivered orders"
strata 0 --dir purge down
expect "0099_purge_delivered_orders" "0099 rolled back, checked against what it recorded before it ran"
[ "$(sqlite3 app.db "SELECT count(*) FROM orders")" -eq "$rows_before" ] || fail "orders were lost"
strata 0 fingerprint --data
[ "$out" = "$data_before" ] || fail "the data fingerprint differs after the rollback"
ok "every deleted row is back: the data fingerprints equal those before 0099"

# --- rehearsal (strata rehearse) ---
step "rehearse before applying: 0007-0012 on a sandbox copy of a database at 0006, with 10,000 generated rows per table"
strata 0 --database sqlite:rehearse.db up --to 6
before_rehearsal=$(sha256sum rehearse.db)
strata 0 --database sqlite:rehearse.db rehearse --to 12 --seed 10000
expect "rehearsal passed: 6 migrations" "all 6 migrations passed: up, down to the same schema and data, up again"
expect "10 injected failures left no trace" "a failure injected at each of the 10 statements left no trace"
[ "$(sha256sum rehearse.db)" = "$before_rehearsal" ] || fail "the rehearsal changed its target"
ok "the target file is byte for byte what it was"
echo "(a copy of the migrations whose 0090 has a down script that forgets to drop the index its up creates)"
mkdir wrong-down
cp migrations/*.sql wrong-down/
echo "CREATE INDEX customers_full_name_idx ON customers (full_name);" >wrong-down/0090_index_customer_names.up.sql
echo "SELECT 1;  -- forgets DROP INDEX customers_full_name_idx" >wrong-down/0090_index_customer_names.down.sql
strata 6 --dir wrong-down rehearse
expect "+ index customers_full_name_idx" "the rehearsal fails naming the index the down script left behind"
# --- end of rehearsal ---

printf '\n== demo finished: %d checks passed\n' "$checks"
