#!/usr/bin/env bash
# Idempotent: a venv at target/bench-venv with the peers of the Python rows (unkey.py, httpx) and
# the `keyshift` package built in RELEASE mode (cargo profile $KEYSHIFT_BENCH_PROFILE, default
# `release`): the package's Python sources plus the cdylib, copied in as `keyshift/_native.abi3.so`,
# which is the wheel's layout. The cdylib comes from a plain `cargo build` (a no-op after
# bench/run.sh's first cargo call, which compiles it beside everything else): maturin's own cargo
# call sets PYO3_* variables that would recompile pyo3. `pip install ./bindings-python` and
# `maturin build` are what the tests check. Prints the venv's python on stdout; progress on
# stderr. `--deps-only`: only the venv and the peers (bench/run.sh installs them while cargo
# compiles), nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="$TARGET/bench-venv"
PROFILE="${KEYSHIFT_BENCH_PROFILE:-release}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bench: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import unkey.py, httpx' 2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check unkey.py==3.2.2 httpx==0.28.1 >&2
fi
[ "${1:-}" = --deps-only ] && exit 0
CARGO_INCREMENTAL=0 cargo build --profile "$PROFILE" --locked -q -p keyshift-python --lib >&2
case "$(uname -s)" in Darwin) lib=libkeyshift_python.dylib ;; *) lib=libkeyshift_python.so ;; esac
pkg="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/keyshift"
rm -rf "$pkg" "$pkg"-*.dist-info
mkdir -p "$pkg"
# The sources only: a developer's `maturin develop` may have left a debug _native*.so beside them.
find bindings-python/python/keyshift -maxdepth 1 -type f \( -name '*.py' -o -name '*.pyi' -o -name py.typed \) \
  -exec cp {} "$pkg/" \;
cp "$TARGET/$PROFILE/$lib" "$pkg/_native.abi3.so"
echo "$PY"
