#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 server.
#
# Usage: scripts/with_postgres.sh <command...>
#
# Creates a cluster in a fresh temporary directory (trust auth; fsync off
# unless STRATA_PG_DURABLE=1, which keeps PostgreSQL's durable defaults, as a
# production server runs, for benchmarks),
# listening on 127.0.0.1 only at $STRATA_PG_PORT (default 55471, or the next
# free port) with its unix socket in that directory, and creates the database
# strata_test. The command sees:
#   STRATA_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/strata_test
#   PGHOST=127.0.0.1 PGPORT=PORT PGUSER=postgres   (for psql)
# The server is stopped and the directory removed however the script ends;
# the exit code is the command's.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 <command...>" >&2
  exit 2
fi

PGBIN=${STRATA_PGBIN:-/usr/lib/postgresql/15/bin}
base_port=${STRATA_PG_PORT:-55471}
pgtmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-pg.XXXXXX")

# initdb refuses to run as root: run the server as the postgres user then.
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$pgtmp"
  as_server() { runuser -u postgres -- "$@"; }
else
  as_server() { "$@"; }
fi

cleanup() {
  local rc=$?
  if [ -f "$pgtmp/data/postmaster.pid" ]; then
    as_server "$PGBIN/pg_ctl" -D "$pgtmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$pgtmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_server "$PGBIN/initdb" -D "$pgtmp/data" -U postgres -A trust -E UTF8 \
  --locale=C.UTF-8 --no-sync >"$pgtmp/initdb.log" 2>&1 || {
  cat "$pgtmp/initdb.log" >&2
  exit 1
}

# True when something already accepts connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

speed_over_safety="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${STRATA_PG_DURABLE:-0}" = 1 ] && speed_over_safety=""

port=""
for ((candidate = base_port; candidate < base_port + 50; candidate++)); do
  port_busy "$candidate" && continue
  if as_server "$PGBIN/pg_ctl" -D "$pgtmp/data" -l "$pgtmp/server.log" -w -t 30 \
      -o "-p $candidate -k $pgtmp -c listen_addresses=127.0.0.1 $speed_over_safety" \
      start >/dev/null 2>&1; then
    port=$candidate
    break
  fi
  # Lost a race for the port: try the next one. Any other failure is fatal.
  if ! grep -q "Address already in use" "$pgtmp/server.log" 2>/dev/null; then
    echo "with_postgres: the server did not start; server.log:" >&2
    cat "$pgtmp/server.log" >&2 || true
    exit 1
  fi
done
if [ -z "$port" ]; then
  echo "with_postgres: no free port in $base_port..$((base_port + 49)); server.log:" >&2
  cat "$pgtmp/server.log" >&2 || true
  exit 1
fi

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
psql_bin="$PGBIN/psql"
[ -x "$psql_bin" ] || psql_bin=psql
"$psql_bin" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE strata_test'
export STRATA_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/strata_test"
echo "with_postgres: PostgreSQL up at 127.0.0.1:$port (socket dir $pgtmp), database strata_test" >&2

# Run the command in the background so that a signal to this script is
# acted on at once (bash defers traps while a foreground child runs): pass
# it on, wait for the command, then clean up. `<&0` keeps its stdin.
set +e
"$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
wait "$child"
exit $?
