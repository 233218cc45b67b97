#!/usr/bin/env bash
# The self-service portal (issue 16) in a real browser: Debian's Chromium (installed with apt-get
# when missing; never a downloaded browser) driven by playwright-core (pinned in
# tests/browser/package-lock.json) against a real `keyshift serve` (debug build, temp SQLite,
# free loopback port, --portal-origin for the embed test). Screenshots of every step go to
# tests/browser/output/. Usage: ./scripts/test-browser.sh (from anywhere in the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> browser: %s\n' "$*"; }

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  step "Debian's chromium (apt-get)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "chromium is missing and this user cannot apt-get install it (not root, no sudo)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
"$CHROMIUM" --version 2>/dev/null || true

if [ -z "${KEYSHIFT_BIN:-}" ]; then
  step "keyshift binary for the test server"
  cargo build -p keyshift-cli
  export KEYSHIFT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/keyshift"
fi

cd tests/browser
step "npm ci (playwright-core, pinned in package-lock.json; it downloads no browser)"
npm ci --no-audit --no-fund

step "tsc --strict: the element's .d.ts, its React typing and the README's React example"
node types/extract-readme.mjs
npx --no-install tsc -p types/tsconfig.json

step "node --test portal.test.mjs (screenshots: tests/browser/output/)"
node --test --test-reporter=tap portal.test.mjs
