#!/usr/bin/env bash
# Builds strata and strata_bench, then runs the benchmark.
#
# Usage: bench/run.sh [strata_bench flags...]       e.g. bench/run.sh --reps 5
#   BUILD_DIR   build directory (default: build)
#   STRATA_TEST_PG_URL, or --pg URL, adds the PostgreSQL part; for a throwaway
#   server: scripts/with_postgres.sh bench/run.sh
# Exits 0 once everything ran (PASS or FAIL alike), non-zero if a command failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bash "$root/scripts/build.sh" "$build" -DSTRATA_BENCH=ON >&2
exec "$build/bench/strata_bench" "$@"
