#!/usr/bin/env bash
# Checks that workspace-hack/ (cargo-hakari's feature-unifying crate) is complete, without
# installing cargo-hakari: for every workspace member, the third-party crates a build of that
# member alone compiles (`cargo tree -p MEMBER -e normal,build`) must have exactly the features
# they have in the whole workspace with dev-dependencies (what `cargo test --workspace` builds).
# Then `cargo build -p keyshift-cli`, maturin's wheel build and napi's addon build all reuse one
# compile of the shared dependencies (and of keyshift-core / keyshift-engine). uniffi-bindgen is
# left out on purpose (.config/hakari.toml: its uniffi `cli` feature stays in that tool).
# On failure: cargo install cargo-hakari --locked; cargo hakari generate; cargo hakari manage-deps
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import json, re, subprocess, sys

def tree(args):
    out = subprocess.run(
        ["cargo", "tree", "-f", "{p} {f}", "--prefix", "none", *args],
        capture_output=True, text=True, check=True).stdout
    feats = {}
    for line in out.splitlines():
        m = re.match(r"(\S+ v\S+)( \(/[^)]*\))?(?: \(\*\))?\s*(.*)", line.strip())
        if m and not m.group(2):  # third-party crates only (workspace paths are ours)
            feats.setdefault(m.group(1), set()).add(m.group(3).replace("(*)", "").strip())
    return feats

EXCLUDED = {"workspace-hack", "uniffi-bindgen"}
whole = tree(["--workspace", "--exclude", "uniffi-bindgen"])
meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1",
                                  "--no-deps"], capture_output=True, text=True, check=True).stdout)
bad = 0
for pkg in meta["packages"]:
    if pkg["name"] in EXCLUDED:
        continue
    if not any(d["name"] == "workspace-hack" for d in pkg["dependencies"]):
        bad += 1
        print(f"{pkg['name']}: does not depend on workspace-hack", file=sys.stderr)
    for crate, feats in tree(["-p", pkg["name"], "-e", "normal,build"]).items():
        if whole.get(crate) != feats:
            bad += 1
            print(f"{pkg['name']}: {crate} built with features {sorted(feats)}, "
                  f"the workspace with {sorted(whole.get(crate, []))}", file=sys.stderr)
if bad:
    print("workspace-hack is stale: cargo install cargo-hakari --locked && cargo hakari generate"
          " && cargo hakari manage-deps", file=sys.stderr)
    sys.exit(1)
print(f"workspace-hack: features unified for {len(meta['packages']) - len(EXCLUDED)} members")
PY
