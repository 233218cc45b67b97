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

step "workspace-hack unifies the features of the shared dependencies (no rebuilds between cargo, maturin, napi)"
./scripts/check-workspace-hack.sh

step "Rust tests (unit, vectors, engine, server over loopback HTTP, client, migration)"
# uniffi-bindgen (no tests) is left out: its uniffi `cli` feature would change the features of clap,
# indexmap, h2, hyper, reqwest for this build, and every later `cargo build -p ...`, maturin and napi
# build would then compile them and keyshift-core/-engine again (scripts/gen-uniffi.sh builds it).
cargo test --workspace --exclude uniffi-bindgen

step "Python test dependencies (pinned in tests/python/requirements.txt)"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -r tests/python/requirements.txt

if [ -f tests/vectors/generate.py ]; then
  step "Python: shared vectors recomputed independently and compared"
  python3 tests/vectors/generate.py --check
fi

step "keyshift binary for the process-level suites"
cargo build -p keyshift-cli
export KEYSHIFT_BIN="${KEYSHIFT_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/keyshift}"

step "Python: keyshift hash vs hashlib; official unkey.py SDK against keyshift serve"
python3 -m pytest -q tests/python tests/compat/python

# --- Python binding (bindings-python; issue 11) -------------------------------------------------
step "Python binding: pip install ./bindings-python, ruff, mypy --strict, pytest (scripts/test-python.sh)"
./scripts/test-python.sh
# --- end Python binding ---------------------------------------------------------------------------

step "Node: official @unkey/api SDK against keyshift serve (npm ci, node --test)"
(cd tests/compat/node && npm ci --no-audit --no-fund && node --test --test-reporter=tap)

# ---- Node / TypeScript binding (bindings-node/): addon build, generated-file check, tsc, node --test
step "Node binding: napi build, tsc --strict, node --test against keyshift serve"
./scripts/test-node.sh
# ---- end Node / TypeScript binding

# --- Kotlin / Swift (uniffi) -------------------------------------------------------------
step "Kotlin/Swift (uniffi): cdylib, bindings (Swift staleness), JUnit against keyshift serve"
./scripts/test-kotlin.sh
# --- end Kotlin / Swift ------------------------------------------------------------------

# --- Self-service portal in a real browser (issue 16; tests/browser) ------------------------------
step "Portal: Debian Chromium + playwright-core against keyshift serve (scripts/test-browser.sh)"
./scripts/test-browser.sh
# --- end self-service portal ----------------------------------------------------------------------
