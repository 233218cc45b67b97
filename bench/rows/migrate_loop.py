#!/usr/bin/env python3
"""The baseline of the migration rows (issue 15): the naive migration loop a user writes by hand.

Reads a JSONL export line by line, hashes each plaintext `key` with hashlib (sha256, base64),
collects 100 records and POSTs them to `keys.migrateKeys` over one keep-alive connection
(http.client, standard library only), waits for the answer, repeats. Prints one line
`RESULT {"keys": N, "secs": S}` on stdout.

Usage: migrate_loop.py FILE BASE_URL API_ID MIGRATION_ID  (root key in KEYSHIFT_ROOT_KEY)
"""

import base64
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse


def main() -> None:
    path, base_url, api_id, migration_id = sys.argv[1:5]
    root_key = os.environ["KEYSHIFT_ROOT_KEY"]
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    headers = {"Authorization": f"Bearer {root_key}", "Content-Type": "application/json"}
    migrated = 0

    def send(batch: list) -> int:
        body = json.dumps({"migrationId": migration_id, "apiId": api_id, "keys": batch})
        conn.request("POST", "/v2/keys.migrateKeys", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"migrateKeys answered {resp.status}: {data[:300]!r}")
        return len(json.loads(data)["data"]["migrated"] or [])

    started = time.perf_counter()
    batch = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            key = record.pop("key")
            record["hash"] = base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()
            batch.append(record)
            if len(batch) == 100:
                migrated += send(batch)
                batch = []
    if batch:
        migrated += send(batch)
    secs = time.perf_counter() - started
    print("RESULT " + json.dumps({"keys": migrated, "secs": secs}), flush=True)


if __name__ == "__main__":
    main()
