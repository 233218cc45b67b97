#!/usr/bin/env bash
# Row producer (bench/run.sh contract, issue 15): Node verify calls/s with 1 and 16 in flight,
# keyshift's Client vs @unkey/api (and a raw fetch loop), against a fresh `keyshift serve`
# ($KEYSHIFT_BIN) started by bench/node_verify.mjs. Release addon built first (idempotent).
# KEYSHIFT_BENCH_QUICK=1: 1 s per loop instead of 3.
set -euo pipefail
cd "${KEYSHIFT_ROOT:-$(dirname "$0")/../..}"
export CARGO_INCREMENTAL=0
SECONDS_PER_LOOP=3
[ -n "${KEYSHIFT_BENCH_QUICK:-}" ] && SECONDS_PER_LOOP=1
./bench/build/node-release.sh
exec node bench/node_verify.mjs --rows verify --seconds "$SECONDS_PER_LOOP"
