#!/usr/bin/env bash
# Kotlin/Swift (uniffi): builds the cdylib, generates the bindings (Swift staleness checked in
# CI), then compiles the Kotlin library and runs its JUnit suite against a real `keyshift serve`.
# Usage: scripts/test-kotlin.sh          the suite (what CI runs)
#        scripts/test-kotlin.sh bench    only the verify benchmark (tests tagged "bench")
#        scripts/test-kotlin.sh unkeyref the smoke against KEYSHIFT_BASE_URL (by hand, not CI)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  echo "installing Maven and a JDK (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq maven default-jdk-headless >/dev/null
fi

if [ -n "${CI:-}" ]; then
  ./scripts/gen-uniffi.sh --check
else
  ./scripts/gen-uniffi.sh
fi
cargo build -q -p keyshift-cli

mvn_args=(-B -q -Dstyle.color=never -f bindings-uniffi/kotlin/pom.xml -Dkeyshift.skipGen=true)
if [ "${1:-}" = "bench" ]; then
  # Release builds of the library and the server; the generated Kotlin is the same.
  cargo build -q --release -p keyshift-uniffi -p keyshift-cli
  mvn "${mvn_args[@]}" test -Dgroups=bench -DexcludedGroups= \
    -Dkeyshift.libdir="$target/release" -Dkeyshift.bin="$target/release/keyshift"
  cat bindings-uniffi/kotlin/target/bench-verify.txt
  exit 0
fi
if [ "${1:-}" = "unkeyref" ]; then
  # By hand: the smoke against KEYSHIFT_BASE_URL / KEYSHIFT_ROOT_KEY (tests/unkey-ref/README.md).
  mvn "${mvn_args[@]}" test -Dgroups=unkeyref -DexcludedGroups=bench \
    -Dkeyshift.libdir="$target/debug" -Dkeyshift.bin="${KEYSHIFT_BIN:-$target/debug/keyshift}"
  cat bindings-uniffi/kotlin/target/surefire-reports/*UnkeyRefSmokeTest-output.txt 2>/dev/null || true
  exit 0
fi
rm -rf bindings-uniffi/kotlin/target/surefire-reports
mvn "${mvn_args[@]}" test -Dkeyshift.libdir="$target/debug" \
  -Dkeyshift.bin="${KEYSHIFT_BIN:-$target/debug/keyshift}"
# Surefire is quiet with -q: print its per-class summaries and the totals.
python3 - bindings-uniffi/kotlin/target/surefire-reports <<'PY'
import glob, sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in sorted(glob.glob(sys.argv[1] + "/TEST-*.xml")):
    r = ET.parse(path).getroot()
    n, fl, er, sk = (int(r.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    t, f, e, s = t + n, f + fl, e + er, s + sk
    print(f"  {r.get('name')}: {n} tests")
print(f"Tests run: {t}, Failures: {f}, Errors: {e}, Skipped: {s}")
print(f"Kotlin: {t - f - e - s} passed, {f + e} failed")
PY
