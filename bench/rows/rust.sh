#!/usr/bin/env bash
# Rows measured in Rust (bench/src/bin/bench-rows.rs): verify client overhead, server verify vs
# a fixed-body floor, Client.local verify latency, migration keys/s (loopback and 20 ms per
# request) and migration peak RSS. Built by bench/run.sh.
set -euo pipefail
exec "${CARGO_TARGET_DIR:-${KEYSHIFT_ROOT:-.}/target}/${KEYSHIFT_BENCH_PROFILE:-release}/bench-rows" "$@"
