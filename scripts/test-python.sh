#!/usr/bin/env bash
# The Python binding (bindings-python): builds the abi3 wheel with `pip install ./bindings-python`
# into a fresh venv (debug profile: CI budget), then ruff, mypy --strict on the typed tour and
# the package, and pytest (real `keyshift serve`, Client.local, vectors, stub drift, FastAPI).
# Usage: ./scripts/test-python.sh            (RELEASE_WHEEL=1 also runs `maturin build --release`)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/python-venv"
step() { printf '\n==> %s\n' "$*"; }

if [ -z "${KEYSHIFT_BIN:-}" ]; then
  step "keyshift binary for the server fixture"
  cargo build -p keyshift-cli
  export KEYSHIFT_BIN="$TARGET/debug/keyshift"
fi

step "fresh venv at $VENV with pinned tools (bindings-python/requirements-dev.txt)"
rm -rf "$VENV"
python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --disable-pip-version-check -r bindings-python/requirements-dev.txt

step "pip install ./bindings-python[fastapi] (maturin builds the abi3 wheel; dev profile)"
MATURIN_PEP517_ARGS="--profile dev" "$PY" -m pip install -q --disable-pip-version-check \
  "./bindings-python[fastapi]"
"$PY" -c 'import keyshift, sys; print("keyshift", keyshift.__version__, "from", keyshift.__file__)'

cd bindings-python
step "ruff (lint) and mypy --strict (typed tour of the whole API, the package and its stubs)"
"$VENV/bin/ruff" check --no-cache python tests examples ../bench/python_verify.py
"$VENV/bin/mypy" --strict examples/tour.py python/keyshift

step "pytest: sync + async clients over HTTP and Client.local, vectors, stubs, FastAPI, README example"
"$VENV/bin/pytest" -q -p no:cacheprovider tests

if [ "${RELEASE_WHEEL:-0}" = 1 ]; then
  step "maturin build --release: one abi3 wheel"
  rm -rf "$TARGET/wheels-release"
  "$VENV/bin/maturin" build --release --out "$TARGET/wheels-release"
  ls "$TARGET/wheels-release"
  [ "$(ls "$TARGET/wheels-release" | grep -c 'abi3.*\.whl$')" = 1 ]
fi
