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
if ! bash "$root/scripts/build.sh" "$build" -DSTRATA_BENCH=ON >&2; then
  # A broken target elsewhere (a test, say) need not stop the measurement.
  echo "run.sh: the full build failed; building only strata and strata_bench" >&2
  cmake --build "$build" -j "$(nproc)" --target strata_bench >&2
fi
exec "$build/bench/strata_bench" "$@"
