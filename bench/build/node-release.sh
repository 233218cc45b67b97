#!/usr/bin/env bash
# Idempotent: bindings-node with its pinned dev dependencies (@unkey/api is the peer of the Node
# rows) and the addon built in RELEASE mode (napi build with cargo profile $KEYSHIFT_BENCH_PROFILE,
# default `release` as in `npm run build`). Rebuilds only when the sources of core, engine or
# bindings-node (or Cargo.lock) or the profile changed since the last build into this target
# dir (the stamp lives there: an empty target dir always rebuilds).
# The committed binding.js / binding.d.ts are restored afterwards (they do not depend on the
# profile). Progress goes to stderr. `--deps-only`: only `npm ci` (bench/run.sh runs it while cargo
# compiles).
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=bindings-node
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
STAMP="$TARGET/.keyshift-node-release-src"
src_hash() {
  find Cargo.toml core/src core/Cargo.toml engine/src engine/Cargo.toml "$PKG/src" "$PKG/Cargo.toml" "$PKG/package-lock.json" Cargo.lock \
    -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64
}
PROFILE="${KEYSHIFT_BENCH_PROFILE:-release}"
want="$(src_hash) $PROFILE"
if [ ! -d "$PKG/node_modules/@unkey/api" ] || [ ! -d "$PKG/node_modules/@napi-rs/cli" ]; then
  echo "bench: npm ci in $PKG" >&2
  (cd "$PKG" && npm ci --no-audit --no-fund >&2)
fi
[ "${1:-}" = --deps-only ] && exit 0
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] || ! ls "$PKG"/keyshift.*.node >/dev/null 2>&1; then
  echo "bench: napi build --profile $PROFILE in $PKG" >&2
  (cd "$PKG" && CARGO=./scripts/cargo-host.sh npx napi build --platform --profile "$PROFILE" \
    --js binding.js --dts binding.d.ts >&2)
  git checkout -q -- "$PKG/binding.js" "$PKG/binding.d.ts" 2>/dev/null || true
  mkdir -p "$TARGET" && echo "$want" > "$STAMP"
fi
