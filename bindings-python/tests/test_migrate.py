"""Migration from a JSONL file and from a generator (streamed), progress callbacks, exceptions
raised by the generator or the callback propagating unchanged, verify_with_fallback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import keyshift
from keyshift import VerifyCode

from conftest import Server


def keys(n: int, tag: str) -> list[str]:
    return [keyshift.generate_key(f"mg_{tag}") for _ in range(n)]


def test_jsonl_file_with_report_and_progress(client: keyshift.Client, api_id: str,
                                              tmp_path: Path, kind: str) -> None:
    plain = keys(250, "f" + kind[0])
    src = tmp_path / "keys.jsonl"
    src.write_text("".join(json.dumps({"key": k, "name": f"n{i}", "permissions": ["m.read"]}) + "\n"
                           for i, k in enumerate(plain)) + "{not json}\n")
    seen: list[keyshift.Progress] = []
    report = client.migrate_keys(src, api_id=api_id, migration_id="py-file-" + kind,
                                 batch_size=50, report=tmp_path / "report.jsonl",
                                 on_progress=seen.append)
    assert (report.total, report.migrated, report.invalid) == (251, 250, 1)
    assert not report.is_complete and report.errors[0].line == 251
    assert seen and seen[-1].finished and seen[-1].migrated == 250
    assert (tmp_path / "report.jsonl").read_text().count("keyId") == 250
    v = client.verify(plain[17], permissions="m.read")
    assert v.valid and v.name == "n17"
    dry = client.migrate_keys(src, api_id=api_id, migration_id="dry", dry_run=True)
    assert dry.dry_run and dry.valid == 250 and dry.migrated == 0


def test_generator_is_streamed(client: keyshift.Client, api_id: str, server: Server,
                               local_db: Path, kind: str) -> None:
    first = keyshift.generate_key("mg_stream")
    n, probe_at = 6000, 5000
    probe: list[bool] = []

    def probe_first() -> None:
        # A separate client on another thread: was the first batch stored while the
        # generator is still being pulled?
        other = (keyshift.Client(server.base_url, server.root_key) if kind == "http"
                 else keyshift.Client.local(local_db))
        probe.append(other.verify(first).valid)

    def gen() -> Iterator[dict[str, Any]]:
        yield {"key": first}
        for i in range(1, n):
            if i == probe_at:
                t = threading.Thread(target=probe_first)
                t.start()
                t.join()
            yield {"key": f"mg_stream_{kind}_{i:08d}_padpadpad"}

    report = client.migrate_keys(gen(), api_id=api_id, migration_id="py-gen-" + kind,
                                 batch_size=100, concurrency=2)
    assert report.migrated == n and report.total == n
    assert probe == [True], "the first batch was not sent before the generator was exhausted"


def test_default_batches_adapt_and_an_explicit_size_is_kept(client: keyshift.Client,
                                                             api_id: str, kind: str) -> None:
    # With no batch_size, core grows batches past 100 while the server answers quickly; a
    # given batch_size is used as is (3,000 keys = 30 batches of 100).
    adaptive = client.migrate_keys(({"key": f"mg_adapt_{kind}_{i:06d}_padpadpad"}
                                    for i in range(3000)),
                                   api_id=api_id, migration_id="py-adapt-" + kind)
    fixed = client.migrate_keys(({"key": f"mg_fixed_{kind}_{i:06d}_padpadpad"}
                                 for i in range(3000)),
                                api_id=api_id, migration_id="py-fixed-" + kind, batch_size=100)
    assert adaptive.migrated == fixed.migrated == 3000
    assert fixed.batches == 30
    assert adaptive.batches < 30


def test_raising_generator_propagates_the_same_exception(client: keyshift.Client,
                                                         api_id: str) -> None:
    boom = ValueError("legacy database went away")
    pulled: list[int] = []

    def gen() -> Iterator[dict[str, Any]]:
        for i in range(450):
            pulled.append(i)
            yield {"key": f"mg_raise_{i:06d}_abcdefghijkl"}
        raise boom

    with pytest.raises(ValueError) as info:
        client.migrate_keys(gen(), api_id=api_id, migration_id="py-raise")
    assert info.value is boom and info.value.__traceback__ is not None
    assert len(pulled) == 450
    # Not end of input: the partial batch after the last full one is not sent.
    assert client.verify("mg_raise_000449_abcdefghijkl").code is VerifyCode.NOT_FOUND


def test_raising_progress_callback_propagates_and_cancels(client: keyshift.Client,
                                                          api_id: str) -> None:
    boom = RuntimeError("progress display crashed")

    def on_progress(p: keyshift.Progress) -> None:
        raise boom

    records = ({"key": f"mg_cb_{i:06d}_abcdefghijkl"} for i in range(300))
    with pytest.raises(RuntimeError) as info:
        client.migrate_keys(records, api_id=api_id, migration_id="py-cb", on_progress=on_progress)
    assert info.value is boom


def test_progress_returning_false_cancels(client: keyshift.Client, api_id: str) -> None:
    records = ({"key": f"mg_cancel_{i:06d}_abcdefghijkl"} for i in range(3000))
    with pytest.raises(keyshift.IoError) as info:
        client.migrate_keys(records, api_id=api_id, migration_id="py-cancel", batch_size=10,
                            concurrency=1, on_progress=lambda p: False)
    assert info.value.field == "cancel"


async def test_async_migration_from_generator(aclient: keyshift.AsyncClient, api_id: str,
                                              kind: str) -> None:
    plain = keys(120, "as" + kind[0])
    report = await aclient.migrate_keys(({"key": k} for k in plain), api_id=api_id,
                                        migration_id="py-async-" + kind)
    assert report.migrated == 120
    assert (await aclient.verify(plain[-1])).valid
    boom = KeyError("x")

    def bad() -> Iterator[dict[str, Any]]:
        yield {"key": "mg_async_bad_0000_abcdefgh"}
        raise boom

    with pytest.raises(KeyError) as info:
        await aclient.migrate_keys(bad(), api_id=api_id, migration_id="py-async-bad")
    assert info.value is boom


async def test_async_iterable_is_pulled_on_the_loop(aclient: keyshift.AsyncClient, api_id: str,
                                                    kind: str) -> None:
    plain = keys(300, "ai" + kind[0])

    async def agen() -> AsyncIterator[dict[str, Any]]:
        for k in plain:
            await asyncio.sleep(0)
            yield {"key": k}

    report = await aclient.migrate_keys(agen(), api_id=api_id, migration_id="py-agen-" + kind,
                                        batch_size=50)
    assert report.migrated == 300 and report.total == 300
    assert (await aclient.verify(plain[150])).valid
    boom = LookupError("async source failed")

    async def bad() -> AsyncIterator[dict[str, Any]]:
        yield {"key": "mg_agen_bad_0000_abcdefgh"}
        raise boom

    with pytest.raises(LookupError) as info:
        await aclient.migrate_keys(bad(), api_id=api_id, migration_id="py-agen-bad")
    assert info.value is boom


def test_verify_with_fallback(client: keyshift.Client, api_id: str, kind: str) -> None:
    legacy_keys = {f"legacy_{kind}_key_0000000001", f"legacy_{kind}_key_0000000002"}
    calls: list[str] = []

    def legacy(key: str) -> bool:
        calls.append(key)
        return key in legacy_keys

    k1, k2 = sorted(legacy_keys)
    v = client.verify_with_fallback(k1, legacy=legacy)
    assert v.valid and v.source == "legacy" and calls == [k1]
    assert client.verify(k1).code is VerifyCode.NOT_FOUND  # no backfill
    rejected = client.verify_with_fallback("legacy_unknown_00000001", legacy=legacy)
    assert not rejected.valid and rejected.code is VerifyCode.NOT_FOUND
    filled = client.verify_with_fallback(
        k2, legacy=legacy, backfill=keyshift.Backfill(api_id, "py-backfill", permissions=["l.read"]))
    assert filled.valid and filled.key_id
    after = client.verify(k2, permissions="l.read")
    assert after.valid and after.source == "key_service" and after.key_id == filled.key_id
    created = client.create_api_key(api_id)
    calls.clear()
    assert client.verify_with_fallback(created.key, legacy=legacy).source == "key_service"
    assert calls == []
    boom = ConnectionError("legacy db down")

    def raising(key: str) -> bool:
        raise boom

    with pytest.raises(ConnectionError) as info:
        client.verify_with_fallback("legacy_unknown_00000002", legacy=raising)
    assert info.value is boom


async def test_verify_with_fallback_async(aclient: keyshift.AsyncClient) -> None:
    v = await aclient.verify_with_fallback("legacy_async_0000000001", legacy=lambda k: True)
    assert v.valid and v.source == "legacy"
    boom = OSError("nope")

    def raising(key: str) -> bool:
        raise boom

    with pytest.raises(OSError) as info:
        await aclient.verify_with_fallback("legacy_async_0000000002", legacy=raising)
    assert info.value is boom


async def test_async_legacy_check_is_awaited_on_the_loop(aclient: keyshift.AsyncClient,
                                                         client: keyshift.Client) -> None:
    seen: list[str] = []

    async def legacy(key: str) -> bool:
        await asyncio.sleep(0.01)
        seen.append(key)
        return key.endswith("good")

    ok = await aclient.verify_with_fallback("legacy_async_check_good", legacy=legacy)
    bad = await aclient.verify_with_fallback("legacy_async_check_bad0", legacy=legacy)
    assert ok.valid and ok.source == "legacy" and not bad.valid
    assert seen == ["legacy_async_check_good", "legacy_async_check_bad0"]
    boom = ValueError("async legacy failed")

    async def raising(key: str) -> bool:
        raise boom

    with pytest.raises(ValueError) as info:
        await aclient.verify_with_fallback("legacy_async_check_err0", legacy=raising)
    assert info.value is boom
    with pytest.raises(TypeError):
        client.verify_with_fallback("legacy_async_check_sync", legacy=legacy)  # type: ignore[arg-type]
