#!/usr/bin/env bash
# `napi build` always passes `--target <triple>`, which makes cargo compile every dependency a
# second time under target/<triple>/ although the workspace already built them under
# target/debug. napi runs "$CARGO" when set: package.json points it here. For the host triple
# we drop `--target` (same code, shared build cache) and hard-link the artifact to where napi
# looks for it; any other triple goes to cargo unchanged.
set -euo pipefail
host=$(rustc -vV | sed -n 's/^host: //p')
args=() triple="" profile=debug target_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) triple="$2"; shift 2; [ "$triple" = "$host" ] || args+=(--target "$triple"); continue ;;
    --release) profile=release ;;
    --profile) profile="$2"; args+=("$1" "$2"); shift 2; continue ;;
    --target-dir) target_dir="$2" ;;
  esac
  args+=("$1"); shift
done
cargo "${args[@]}"
if [ "$triple" = "$host" ]; then
  target_dir=${target_dir:-${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')}}
  [ "$profile" = dev ] && profile=debug
  mkdir -p "$target_dir/$triple/$profile"
  for f in "$target_dir/$profile"/libkeyshift_node.*; do
    case "$f" in *.so|*.dylib|*.dll) ln -f "$f" "$target_dir/$triple/$profile/" ;; esac
  done
fi
