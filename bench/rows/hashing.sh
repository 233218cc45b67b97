#!/usr/bin/env bash
# Row producer (bench/run.sh contract, issue 15): "hash sha256_base64 ns/key (1M 48-char keys)"
# for Rust (bench-hashing: hash_packed and hash_keys vs a sha2+base64 per-key loop), Python
# (hash_keys list API and hash_keys_packed vs a hashlib+base64 loop) and Node (hashKeys array
# API and hashKeysPacked vs node:crypto). Builds what it needs in release mode (idempotent).
# KEYSHIFT_BENCH_QUICK=1: 200k keys, fewer rounds.
set -euo pipefail
cd "${KEYSHIFT_ROOT:-$(dirname "$0")/../..}"
export CARGO_INCREMENTAL=0
if [ -n "${KEYSHIFT_BENCH_QUICK:-}" ]; then KEYS=200000; RUNS=3; else KEYS=1000000; RUNS=7; fi
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
status=0

PROFILE="${KEYSHIFT_BENCH_PROFILE:-release}"
cargo build --profile "$PROFILE" -q -p keyshift-bench --bin bench-hashing >&2
"$TARGET/$PROFILE/bench-hashing" --keys "$KEYS" --runs "$RUNS" | while IFS= read -r line; do
  case "$line" in ROW\ *) echo "$line" ;; *) echo "$line" >&2 ;; esac
done || status=1

PY=$(./bench/build/python-release.sh) \
  && "$PY" bench/python_verify.py --rows hashing --keys "$KEYS" || status=1

./bench/build/node-release.sh \
  && node bench/node_verify.mjs --rows hashing --keys "$KEYS" || status=1
exit $status
