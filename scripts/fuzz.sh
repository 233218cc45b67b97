#!/usr/bin/env bash
# Fuzzes every target of fuzz/ with cargo-fuzz (libFuzzer) for SECONDS each (default 20), then
# replays nothing else: crashes land in fuzz/libfuzzer/artifacts/<target>/ and fail the run.
# Stable Rust: cargo-fuzz's nightly flags are allowed with RUSTC_BOOTSTRAP=1.
# Usage: ./scripts/fuzz.sh [SECONDS] [TARGET...]   (FUZZ_SEED=N: libFuzzer's -seed, so a short
# run walks the same inputs each time; CI sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
dir=fuzz/libfuzzer
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir "$dir")
fi
# No AddressSanitizer: the code under test is safe Rust (the C inside is SQLite's, fuzzed by its
# own project); coverage guidance and debug assertions are what we want here.
cargo fuzz build --fuzz-dir "$dir" --sanitizer none --debug-assertions
for target in "${targets[@]}"; do
  work="$dir/corpus-run/$target"
  mkdir -p "$work"
  printf '\n==> fuzz %s for %s s\n' "$target" "$seconds"
  # New inputs go to the scratch corpus; the committed seeds are read too. Limits: 2 GiB RSS,
  # 10 s per input (a hang is a failure), 64 KiB inputs.
  log="$work.log"
  status=0
  cargo fuzz run --fuzz-dir "$dir" --sanitizer none --debug-assertions "$target" \
    "$work" "fuzz/corpus/$target" -- \
    ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  if [ "$status" != 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz target $target failed (exit $status): see $dir/artifacts/$target/" >&2
    exit 1
  fi
done
