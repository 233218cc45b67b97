#!/usr/bin/env bash
# Runs every test of every language, plus the lint gates CI enforces.
# Usage: ./scripts/test.sh            (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests (unit, vectors, engine, server over loopback HTTP, client, migration)"
cargo test --workspace

if [ -f tests/vectors/generate.py ]; then
  step "Python: shared vectors recomputed independently and compared"
  python3 tests/vectors/generate.py --check
fi
