"""Python verify and hashing benchmark: ratios measured in one run against one local server.

Starts `keyshift serve` (target/release/keyshift, else target/debug/keyshift, or $KEYSHIFT_BIN)
on a free loopback port, creates one key, then measures verify calls/s of
  - keyshift.Client (blocking, one thread),
  - keyshift.AsyncClient with 16 concurrent tasks,
  - Unkey's official Python SDK (`unkey.py`, the package tests/compat/python uses),
  - a raw httpx keep-alive loop (POST /v2/keys.verifyKey, the floor of any Python HTTP client),
and hash_keys vs hashlib+base64 on 1M keys. Peers are installed only in the bench venv:

    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install target/wheels-release/keyshift-*.whl unkey.py==3.2.2 httpx==0.28.1
    target/bench-venv/bin/python bench/python_verify.py [--seconds 3] [--keys 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import keyshift

REPO = Path(__file__).resolve().parents[1]


def server_bin() -> str:
    if os.environ.get("KEYSHIFT_BIN"):
        return os.environ["KEYSHIFT_BIN"]
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "keyshift"
        if p.is_file():
            return str(p)
    raise SystemExit("build the server first: cargo build --release -p keyshift-cli")


def start_server(tmp: str) -> tuple[subprocess.Popen[str], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSHIFT_", "UNKEY_"))}
    proc = subprocess.Popen([server_bin(), "serve", "--db", f"{tmp}/bench.db", "--listen",
                             "127.0.0.1:0", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    announce = json.loads(proc.stdout.readline())
    return proc, announce["baseUrl"], announce["rootKey"]


def rate(fn: Callable[[], Any], seconds: float) -> float:
    for _ in range(20):  # warm up connections
        fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


async def async_rate(client: keyshift.AsyncClient, key: str, seconds: float, tasks: int) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * tasks

    async def worker(i: int) -> None:
        while time.perf_counter() < stop:
            v = await client.verify(key)
            assert v.valid
            counts[i] += 1

    for _ in range(20):
        await client.verify(key)
    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--keys", type=int, default=1_000_000)
    args = ap.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base_url, root_key = start_server(tmp)
        try:
            client = keyshift.Client(base_url, root_key)
            api = client.create_api("bench")
            key = client.create_api_key(api.api_id, name="bench").key
            assert client.verify(key).valid

            results["keyshift.Client"] = rate(lambda: client.verify(key), args.seconds)
            aclient = keyshift.AsyncClient(base_url, root_key)
            results["keyshift.AsyncClient x16"] = asyncio.run(
                async_rate(aclient, key, args.seconds, 16))

            import httpx
            with httpx.Client(base_url=base_url, headers={
                    "Authorization": f"Bearer {root_key}"}) as http:
                def raw() -> None:
                    r = http.post("/v2/keys.verifyKey", json={"key": key})
                    assert r.json()["data"]["valid"]
                results["raw httpx keep-alive"] = rate(raw, args.seconds)

            try:
                from unkey.py import Unkey
            except ImportError:
                print("unkey.py not installed in this venv: skipping the SDK peer")
            else:
                with Unkey(server_url=base_url, root_key=root_key) as sdk:
                    def official() -> None:
                        assert sdk.keys.verify_key(key=key).data.valid
                    results["unkey.py (official SDK)"] = rate(official, args.seconds)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)

    print(f"\nverify calls/s against one local keyshift serve ({args.seconds:.0f} s each)")
    for name, value in results.items():
        print(f"  {name:<28} {value:10.0f}/s")
    base = results.get("unkey.py (official SDK)")
    floor = results["raw httpx keep-alive"]
    for name in ("keyshift.Client", "keyshift.AsyncClient x16"):
        line = f"  {name:<28} {results[name] / floor:6.1f}x raw httpx"
        if base:
            line += f"   {results[name] / base:6.1f}x unkey.py"
        print(line)

    keys = [f"sk_live_{i:012d}_bench_key_material" for i in range(args.keys)]
    start = time.perf_counter()
    ours = keyshift.hash_keys(keys)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [base64.b64encode(hashlib.sha256(k.encode()).digest()).decode() for k in keys]
    t_hashlib = time.perf_counter() - start
    assert ours == theirs
    print(f"\nhashing {args.keys:,} keys (sha256_base64)")
    print(f"  keyshift.hash_keys  {t_ours:7.3f} s   {args.keys / t_ours:12,.0f} keys/s")
    print(f"  hashlib + base64    {t_hashlib:7.3f} s   {args.keys / t_hashlib:12,.0f} keys/s")
    print(f"  ratio               {t_hashlib / t_ours:7.1f}x")


if __name__ == "__main__":
    main()
