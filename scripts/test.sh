#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root):
#   1. installs what is missing (scripts/setup.sh),
#   2. builds Strata and runs every test (unit, SQLite and PostgreSQL
#      integration) against a throwaway PostgreSQL server it starts itself,
#   3. builds again with AddressSanitizer + UndefinedBehaviorSanitizer and
#      runs the unit and SQLite tests there.
# The server is stopped and its directory removed even when tests fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
echo "== build (RelWithDebInfo, -Wall -Wextra)"
bash scripts/build.sh build -DSTRATA_BENCH=OFF
echo "== tests: unit, SQLite and PostgreSQL"
bash scripts/with_postgres.sh ctest --test-dir build --output-on-failure -j 2 --timeout 300

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer"
# Debug (-O0) compiles in about half the time, and the sanitizers see as much.
bash scripts/build.sh build-asan -DSTRATA_SANITIZE=ON -DSTRATA_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
echo "== tests under the sanitizers: unit and SQLite"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j 2 --timeout 600 -E '^Postgres'
