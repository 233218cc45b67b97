#!/usr/bin/env bash
# The main job on the embedded default: start a local `keyshift serve` (SQLite in a temp dir),
# create an api and a scoped key, verify it, then migrate a generated 100k-key export with a
# progress bar and verify a migrated key. Everything stays on 127.0.0.1; the server stops at exit.
# Usage: ./scripts/quickstart.sh [NUMBER_OF_KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys_to_migrate="${1:-100000}"

echo "==> building keyshift (release)"
cargo build --release -q -p keyshift-cli
ks=./target/release/keyshift

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting keyshift serve on a free loopback port"
"$ks" serve --db "$work/keyshift.db" --listen 127.0.0.1:0 --json >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/serve.out" ] && break
  sleep 0.05
done
info=$(head -n 1 "$work/serve.out")
export KEYSHIFT_BASE_URL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["baseUrl"])' "$info")
export KEYSHIFT_ROOT_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rootKey"])' "$info")
echo "    server: $KEYSHIFT_BASE_URL (root key in KEYSHIFT_ROOT_KEY, not printed)"

echo "==> creating an api and a key scoped to profile:read,update"
api_id=$("$ks" apis create quickstart-api)
echo "    api: $api_id"
created=$("$ks" --json keys create --api-id "$api_id" --prefix sk_live --name "first customer" \
  --scope profile:read,update --external-id customer_1 --credits 100)
key=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$created")
echo "    key:  $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["masked"])' "$created") (masked)"

echo "==> verifying it with a permission query"
echo "$key" | "$ks" keys verify - --permissions "profile.read AND profile.update"
echo "    and without the permission it lacks:"
echo "$key" | "$ks" keys verify - --permissions "profile.delete" || true

echo "==> generating an export of $keys_to_migrate existing keys (plaintext, with scopes)"
"$ks" sample-keys "$keys_to_migrate" --out "$work/export.jsonl" --with-scopes

echo "==> migrating: hashed locally, only hashes cross the wire"
"$ks" migrate "$work/export.jsonl" --api-id "$api_id" --migration-id quickstart-1 \
  --checkpoint "$work/migration.checkpoint" --report "$work/report.jsonl"

echo "==> verifying the first migrated key with the service"
head -n 1 "$work/export.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["key"])' \
  | "$ks" keys verify -
echo "done."
