"""Python verify and hashing benchmark: ratios measured in one run against one local server.

Starts `keyshift serve` (target/release/keyshift, else target/debug/keyshift, or $KEYSHIFT_BIN)
on a free loopback port, creates one key, then measures verify calls/s of
  - keyshift.Client (blocking, one thread),
  - keyshift.AsyncClient with 16 concurrent tasks,
  - Unkey's official Python SDK (`unkey.py`, the package tests/compat/python uses),
  - a raw httpx keep-alive loop (POST /v2/keys.verifyKey, the floor of any Python HTTP client),
and hashing of 1M 48-character keys: hash_keys (list in, list out) and hash_keys_packed (bytes
in, bytes out; also timed with the '\\n'.join that packs a list) vs a hashlib+base64 loop.
Peers are installed only in the bench venv (bench/build/python-release.sh makes it):

    PY=$(bench/build/python-release.sh)
    $PY bench/python_verify.py [--seconds 3] [--keys 1000000] [--rows verify|hashing]

`--rows` is bench/run.sh's row-producer mode (bench/rows/python_verify.sh, bench/rows/hashing.sh):
only that part runs, the human report goes to stderr and stdout carries `ROW {json}` lines.
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
import sys
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


OUT = sys.stdout  # the human report; stderr in --rows mode


def say(*parts: object) -> None:
    print(*parts, file=OUT, flush=True)


def row(row: str, variant: str, ours: float, baseline: float, baseline_label: str, unit: str,
        better: str, target: float | None, note: str = "") -> None:
    """One bench/run.sh ROW line; the ratio is bigger-is-better."""
    ratio = baseline / ours if better == "lower" else ours / baseline
    fields: dict[str, Any] = {
        "row": row, "variant": variant, "ours": round(ours, 1), "baseline": round(baseline, 1),
        "baseline_label": baseline_label, "unit": unit, "better": better,
        "ratio": round(ratio, 2), "target": f">= {target:g}x" if target else None,
        "met": (ratio >= target) if target else None}
    if note:
        fields["ratio_note"] = note
    print("ROW " + json.dumps(fields, ensure_ascii=False), flush=True)


async def unkey_async_rate(sdk: Any, key: str, seconds: float, tasks: int) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * tasks

    async def worker(i: int) -> None:
        while time.perf_counter() < stop:
            r = await sdk.keys.verify_key_async(key=key)
            assert r.data.valid
            counts[i] += 1

    for _ in range(10):
        await sdk.keys.verify_key_async(key=key)
    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--rows", choices=["verify", "hashing"])
    args = ap.parse_args()
    if args.rows:
        OUT = sys.stderr
    if args.rows != "hashing":
        verify(args)
    if args.rows != "verify":
        hashing(args)


def verify(args: argparse.Namespace) -> None:
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
                say("unkey.py not installed in this venv: skipping the SDK peer")
            else:
                with Unkey(server_url=base_url, root_key=root_key) as sdk:
                    def official() -> None:
                        assert sdk.keys.verify_key(key=key).data.valid
                    results["unkey.py (official SDK)"] = rate(official, args.seconds)
                if hasattr(sdk.keys, "verify_key_async"):
                    results["unkey.py async x16"] = asyncio.run(
                        unkey_async_rate(sdk, key, args.seconds, 16))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)

    say(f"\nverify calls/s against one local keyshift serve ({args.seconds:.0f} s each)")
    for name, value in results.items():
        say(f"  {name:<28} {value:10.0f}/s")
    base = results.get("unkey.py (official SDK)")
    floor = results["raw httpx keep-alive"]
    for name in ("keyshift.Client", "keyshift.AsyncClient x16"):
        line = f"  {name:<28} {results[name] / floor:6.1f}x raw httpx"
        if base:
            line += f"   {results[name] / base:6.1f}x unkey.py"
        say(line)
    if not args.rows:
        return
    name = "verify calls/s, {} in flight (Python)"
    sdk1, sdk16 = results.get("unkey.py (official SDK)"), results.get("unkey.py async x16")
    if sdk1:
        row(name.format(1), "keyshift.Client", results["keyshift.Client"], sdk1,
            "unkey.py 3.2.2 (sync)", "calls/s", "higher", 10)
    if sdk16 or sdk1:
        row(name.format(16), "keyshift.AsyncClient x16", results["keyshift.AsyncClient x16"],
            sdk16 or sdk1 or 1.0, "unkey.py 3.2.2 verify_key_async x16" if sdk16
            else "unkey.py 3.2.2 (sync, 1 in flight)", "calls/s", "higher", 10)
    row(name.format(1), "keyshift.Client vs raw httpx", results["keyshift.Client"], floor,
        "raw httpx keep-alive loop", "calls/s", "higher", None,
        "floor of any Python HTTP client on the same server")


def hashing(args: argparse.Namespace) -> None:
    n = args.keys
    pad = "Xq3vB9mZp2LwR8tYc7NdK4hJ5sGfW1eQ"
    keys = [f"sk_live_{i:012d}_{pad}"[:48] for i in range(n)]
    assert all(len(k) == 48 for k in keys[:3])
    runs = 3 if n >= 1_000_000 else 5

    def best(fn: Callable[[], Any]) -> tuple[float, Any]:
        times, out = [], None
        for _ in range(runs):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
        return min(times) * 1e9 / n, out

    def b64(k: str) -> str:
        return base64.b64encode(hashlib.sha256(k.encode()).digest()).decode()

    data = "\n".join(keys).encode()
    t_hashlib, theirs = best(lambda: [b64(k) for k in keys])
    t_list, ours = best(lambda: keyshift.hash_keys(keys))
    t_packed, packed = best(lambda: keyshift.hash_keys_packed(data, count=n))
    t_joined, joined = best(lambda: keyshift.hash_keys_packed("\n".join(keys), count=n))
    assert ours == theirs
    assert packed == joined == "".join(theirs).encode()
    say(f"\nhashing {n:,} keys of 48 chars (sha256_base64), best of {runs}")
    say(f"  hashlib + base64 loop          {t_hashlib:8.1f} ns/key")
    for label, t in (("hash_keys (list -> list)", t_list),
                     ("hash_keys_packed (bytes)", t_packed),
                     ("hash_keys_packed + join", t_joined)):
        say(f"  {label:<30} {t:8.1f} ns/key   {t_hashlib / t:6.1f}x hashlib")
    if not args.rows:
        return
    size = f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"
    name = f"hash sha256_base64 ns/key ({size} 48-char keys)"
    base = "hashlib+base64 loop (list comprehension)"
    row(name, "Python hash_keys", t_list, t_hashlib, base, "ns/key", "lower", 10,
        "list[str] in, list[str] out")
    row(name, "Python hash_keys_packed", t_packed, t_hashlib, base, "ns/key", "lower", 10,
        "bytes ('\\n'-separated) in, bytes (44 bytes per hash) out; packing not timed")
    row(name, "Python hash_keys_packed incl. join", t_joined, t_hashlib, base, "ns/key", "lower",
        10, "'\\n'.join(list) timed too (str passed, read in place); bytes out")


if __name__ == "__main__":
    main()
