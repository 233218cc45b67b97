#!/usr/bin/env bash
# Node/TypeScript binding (bindings-node/): install the pinned npm dev dependencies, build the
# addon with `napi build` (debug), check that the committed generated loader and types are
# fresh, type-check the TypeScript tests (tsc --strict), then run the `node --test` suite
# against real `keyshift serve` processes. Usage: ./scripts/test-node.sh (from anywhere).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> node: %s\n' "$*"; }

if [ -z "${KEYSHIFT_BIN:-}" ]; then
  step "keyshift binary for the test servers"
  cargo build -p keyshift-cli
  export KEYSHIFT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/keyshift"
fi

cd bindings-node
step "npm ci (pinned in package-lock.json)"
npm ci --no-audit --no-fund

step "napi build (debug addon, binding.js and binding.d.ts regenerated)"
npm run --silent build:debug

step "generated binding.js / binding.d.ts are the committed ones"
if ! git diff --exit-code -- binding.js binding.d.ts; then
  echo "binding.js or binding.d.ts is stale: run 'npm run build:debug' in bindings-node and commit them" >&2
  exit 1
fi

step "tsc --noEmit --strict on the typed tests"
npx --no-install tsc -p test/ts/tsconfig.json

step "node --test"
node --test --test-reporter=tap test/*.test.mjs
