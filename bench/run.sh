#!/usr/bin/env bash
# Issue 15: every benchmark ratio in one table. Builds what it needs in release mode, runs every
# row producer under bench/rows/ in name order, prints one markdown table and writes it to
# bench/results.json (commit, date, quick, machine, rows) so runs can be compared across
# commits. Usage: bench/run.sh [--quick]
#
# Row producers (the contract): an executable under bench/rows/ run with cwd = repo root and
# env KEYSHIFT_BENCH_QUICK=1 (quick mode only), KEYSHIFT_BENCH_PROFILE (the cargo profile to
# build with: `release`, or `bench-quick` = release without LTO for --quick), KEYSHIFT_BIN (the
# keyshift binary of that profile), KEYSHIFT_ROOT (repo root). It prints progress on stderr and one line per row on stdout:
#   ROW {"row", "variant", "ours", "baseline", "baseline_label", "unit", "better",
#        "ratio" (bigger = better for us, or as ratio_note says), "target", "met", "ratio_note"?}
# and exits 0 even when a target is missed (non-zero: it could not measure; run.sh then
# shows the producer as failed and goes on).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a (usage: bench/run.sh [--quick])" >&2; exit 2 ;;
  esac
done
export CARGO_INCREMENTAL=0
if [ "$QUICK" = 1 ]; then PROFILE=bench-quick; else PROFILE=release; fi
export KEYSHIFT_BENCH_PROFILE="$PROFILE"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
started=$(date +%s)
# Everything the producers need is built here, up front, each step timed (wall and CPU), in one
# cargo call: keyshift, the bench binaries, and the Python and Node cdylibs, so that both cores
# stay busy to the end and shared crates compile once (the workspace-hack crate unifies their
# features). The wheel and addon steps then only copy the cdylibs into place (their own cargo
# calls find everything fresh), as do the producers' build calls.
build_step() { # label, command...: runs it with stdout on stderr, prints wall and CPU seconds
  local label="$1" rc=0 t0 tf
  shift
  t0=$(date +%s.%N)
  tf="$(mktemp)"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%U %S' -o "$tf" "$@" >&2 || rc=$?
  else
    "$@" >&2 || rc=$?
  fi
  python3 - "$label" "$t0" "$(date +%s.%N)" "$(tail -1 "$tf")" "$rc" <<'PY' >&2
import sys
label, t0, t1, cpu, rc = sys.argv[1:]
u_s = [float(x) for x in cpu.split()] if len(cpu.split()) == 2 else None
cpu_txt = f"{u_s[0] + u_s[1]:.0f} CPU-s (user {u_s[0]:.0f} + sys {u_s[1]:.0f})" if u_s else "CPU n/a"
print(f"== built {label}: {float(t1) - float(t0):.0f}s wall, {cpu_txt}" + ("" if rc == "0" else f", FAILED (exit {rc})"))
PY
  rm -f "$tf"
  return "$rc"
}
kill_tree() { # pid: it and its descendants, children first
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
echo "== building (profile $PROFILE): keyshift, bench-rows, bench-hashing, the Python and Node cdylibs" >&2
# The venv with the Python peers and the Node dev dependencies need no compiler: they are
# installed while cargo compiles, and the package and addon steps find them in place.
./bench/build/python-release.sh --deps-only >&2 &
py_deps=$!
./bench/build/node-release.sh --deps-only >&2 &
node_deps=$!
build_step "keyshift, bench binaries, Python and Node cdylibs" cargo build --profile "$PROFILE" \
  --locked -q -p keyshift-cli --bin keyshift -p keyshift-bench --bin bench-rows --bin bench-hashing \
  -p keyshift-python -p keyshift-node --lib || {
  echo "release build failed" >&2
  # The installs started above must not outlive the run (pip/npm in the background).
  kill_tree "$py_deps"; kill_tree "$node_deps"
  exit 1; }
wait "$py_deps" || true
wait "$node_deps" || true
# A failed package or addon step is reported by the producers that need it (as failed rows).
build_step "Python package (venv)" ./bench/build/python-release.sh || true
build_step "Node addon" ./bench/build/node-release.sh || true
echo "== built in $(( $(date +%s) - started ))s" >&2
export KEYSHIFT_BIN="$TARGET/$PROFILE/keyshift" KEYSHIFT_ROOT="$ROOT"
if [ "$QUICK" = 1 ]; then export KEYSHIFT_BENCH_QUICK=1; else unset KEYSHIFT_BENCH_QUICK; fi

rows_file="$(mktemp)"
trap 'rm -f "$rows_file"' EXIT
for producer in bench/rows/*; do
  [ -f "$producer" ] && [ -x "$producer" ] || continue
  name="$(basename "$producer")"
  echo "== $name" >&2
  t0=$(date +%s)
  out="$("$producer")"
  rc=$?
  printf '%s\n' "$out" | grep '^ROW ' | sed 's/^ROW //' >>"$rows_file"
  if [ "$rc" != 0 ]; then
    printf '{"row": "%s", "failed": true, "exit": %s}\n' "$name" "$rc" >>"$rows_file"
  fi
  echo "== $name: exit $rc, $(( $(date +%s) - t0 ))s" >&2
done

python3 - "$rows_file" "$QUICK" "$(( $(date +%s) - started ))" <<'PY'
import json, os, subprocess, sys, datetime
rows_file, quick, secs = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
rows = [json.loads(l) for l in open(rows_file) if l.strip()]
def git(*a):
    try:
        return subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
model = ""
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip(); break
except OSError:
    pass
def fmt(x):
    if x is None: return "—"
    if isinstance(x, (int, float)):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"
    return str(x)
print(f"\nkeyshift benchmarks ({'quick' if quick else 'full'} run, {secs}s, {os.cpu_count()} cpus, {model})\n")
print("| row | ours | baseline | ratio | target | met |")
print("|---|---|---|---|---|---|")
for r in rows:
    if r.get("failed"):
        print(f"| {r['row']} | failed (exit {r['exit']}) | | | | |"); continue
    unit = r.get("unit", "")
    met = {True: "yes", False: "**no**", None: "—"}[r.get("met")]
    ratio = "—" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
    print(f"| {r['row']} | {r['variant']}: {fmt(r['ours'])} {unit} | {r.get('baseline_label','')}: {fmt(r.get('baseline'))} | {ratio} | {r.get('target') or '—'} | {met} |")
notes = [r for r in rows if r.get("ratio_note")]
if notes:
    print()
    for r in notes:
        print(f"- {r['row']}: {r['ratio_note']}")
out = {
    "commit": git("rev-parse", "HEAD"),
    "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "quick": quick, "seconds": secs,
    "machine": {"cpus": os.cpu_count(), "model": model},
    "rows": rows,
}
with open("bench/results.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False); f.write("\n")
print("\nwritten to bench/results.json")
PY
