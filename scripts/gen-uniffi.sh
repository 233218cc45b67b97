#!/usr/bin/env bash
# Builds the keyshift-uniffi cdylib and generates its Kotlin and Swift bindings with the
# workspace's pinned uniffi-bindgen (DESIGN §10).
#   Kotlin -> bindings-uniffi/kotlin/target/generated-sources/uniffi  (build output, not committed)
#   Swift  -> bindings-uniffi/swift/Sources/{Keyshift,KeyshiftFFI}   (committed)
# Usage: scripts/gen-uniffi.sh [--check|--kotlin]
#   --check   also fail if the committed Swift sources are stale (CI)
#   --kotlin  Kotlin only (what the Maven build runs in generate-sources)
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
kotlin_only=false
[ "${1:-}" = "--check" ] && check=true
[ "${1:-}" = "--kotlin" ] && kotlin_only=true

target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p keyshift-uniffi
cargo build -q -p uniffi-bindgen
lib="$target/debug/libkeyshift_uniffi.so"
bindgen="$target/debug/uniffi-bindgen"

kt_out=bindings-uniffi/kotlin/target/generated-sources/uniffi
rm -rf "$kt_out"
"$bindgen" generate --no-format --language kotlin --out-dir "$kt_out" "$lib" >/dev/null
$kotlin_only && exit 0

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bindgen" generate --no-format --language swift --out-dir "$tmp" "$lib" >/dev/null
swift=bindings-uniffi/swift/Sources
mkdir -p "$swift/Keyshift" "$swift/KeyshiftFFI"
cp "$tmp/Keyshift.swift" "$swift/Keyshift/Keyshift.swift"
cp "$tmp/KeyshiftFFI.h" "$swift/KeyshiftFFI/KeyshiftFFI.h"
# SwiftPM's system-library target reads its module map from `module.modulemap`.
cp "$tmp/KeyshiftFFI.modulemap" "$swift/KeyshiftFFI/module.modulemap"

if $check; then
  if ! git diff --exit-code --stat -- "$swift" || [ -n "$(git ls-files --others --exclude-standard -- "$swift")" ]; then
    echo "bindings-uniffi/swift is stale: run scripts/gen-uniffi.sh and commit the result" >&2
    exit 1
  fi
  echo "Swift bindings are up to date"
fi
