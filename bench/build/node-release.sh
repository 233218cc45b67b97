#!/usr/bin/env bash
# Idempotent: bindings-node with its pinned dev dependencies (@unkey/api is the peer of the Node
# rows) and the addon built in RELEASE mode (cargo profile $KEYSHIFT_BENCH_PROFILE, default
# `release` as in `npm run build`), copied to where the committed loader looks for it
# (`keyshift.<platform>-<arch>[-gnu].node`), as `napi build --platform` does. The cdylib comes
# from a plain `cargo build` (a no-op after bench/run.sh's first cargo call, which compiles it
# beside everything else): `napi build` sets NAPI_TYPE_DEF_TMP_FOLDER, which would recompile the
# crate only to regenerate the committed type definitions. Progress goes to stderr.
# `--deps-only`: only `npm ci` (bench/run.sh runs it while cargo compiles).
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=bindings-node
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
PROFILE="${KEYSHIFT_BENCH_PROFILE:-release}"
if [ ! -d "$PKG/node_modules/@unkey/api" ]; then
  echo "bench: npm ci in $PKG" >&2
  (cd "$PKG" && npm ci --no-audit --no-fund >&2)
fi
[ "${1:-}" = --deps-only ] && exit 0
CARGO_INCREMENTAL=0 cargo build --profile "$PROFILE" --locked -q -p keyshift-node --lib >&2
case "$(uname -s)" in
  Darwin) lib=libkeyshift_node.dylib suffix="" ;;
  *) lib=libkeyshift_node.so suffix="-gnu" ;; # glibc; a musl host would want napi build
esac
node_target="$(node -p 'process.platform + "-" + process.arch')$suffix"
# Via a rename: a process still running the old addon keeps its (unchanged) mapping.
cp -f "$TARGET/$PROFILE/$lib" "$PKG/.keyshift.$node_target.node.tmp"
mv -f "$PKG/.keyshift.$node_target.node.tmp" "$PKG/keyshift.$node_target.node"
