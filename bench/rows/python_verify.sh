#!/usr/bin/env bash
# Row producer (bench/run.sh contract, issue 15): Python verify calls/s with 1 and 16 in flight,
# keyshift.Client / AsyncClient vs unkey.py (and a raw httpx loop), against a fresh
# `keyshift serve` ($KEYSHIFT_BIN) started by bench/python_verify.py. Release wheel built into
# target/bench-venv first (idempotent). KEYSHIFT_BENCH_QUICK=1: 1 s per loop instead of 3.
set -euo pipefail
cd "${KEYSHIFT_ROOT:-$(dirname "$0")/../..}"
export CARGO_INCREMENTAL=0
SECONDS_PER_LOOP=3
[ -n "${KEYSHIFT_BENCH_QUICK:-}" ] && SECONDS_PER_LOOP=1
PY=$(./bench/build/python-release.sh)
exec "$PY" bench/python_verify.py --rows verify --seconds "$SECONDS_PER_LOOP"
