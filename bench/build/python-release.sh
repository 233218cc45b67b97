#!/usr/bin/env bash
# Idempotent: a venv at target/bench-venv holding the keyshift wheel built in RELEASE mode (pip +
# maturin backend; cargo profile $KEYSHIFT_BENCH_PROFILE, default `release`) and the peers of the
# Python rows (unkey.py, httpx). Rebuilds only when the sources of core, engine, bindings-python (or
# Cargo.lock) or the profile changed since the last build; prints the venv's python on stdout.
# Progress goes to stderr. `--deps-only`: only the venv and the peers (no compiler needed; bench/run.sh
# installs them while cargo compiles), nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="$TARGET/bench-venv"
STAMP="$VENV/.keyshift-src"
src_hash() {
  find Cargo.toml core/src core/Cargo.toml engine/src engine/Cargo.toml bindings-python/src bindings-python/python bindings-python/Cargo.toml \
    bindings-python/pyproject.toml Cargo.lock -type f -not -name '*.so' -not -name '*.pyc' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64
}
PROFILE="${KEYSHIFT_BENCH_PROFILE:-release}"
want="$(src_hash) $PROFILE"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bench: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import unkey.py, httpx, maturin' 2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check maturin==1.16.0 unkey.py==3.2.2 httpx==0.28.1 >&2
fi
[ "${1:-}" = --deps-only ] && exit 0
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] || ! "$PY" -c 'import keyshift' 2>/dev/null; then
  echo "bench: pip install ./bindings-python (wheel, profile $PROFILE)" >&2
  # Without build isolation the maturin backend runs the venv's `maturin` by name: PATH has it.
  PATH="$VENV/bin:$PATH" MATURIN_PEP517_ARGS="--profile $PROFILE" "$PY" -m pip install -q \
    --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./bindings-python >&2
  echo "$want" > "$STAMP"
fi
echo "$PY"
