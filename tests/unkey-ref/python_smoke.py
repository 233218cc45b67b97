"""By-hand check of the Python binding against a key service (see README.md here).

KEYSHIFT_BASE_URL, KEYSHIFT_ROOT_KEY, MIGRATION_ID (default migration_a). Not part of CI.
Run with the binding installed: target/python-venv/bin/python tests/unkey-ref/python_smoke.py
"""

import asyncio
import os
import time

import keyshift
from keyshift import VerifyCode

run = format(int(time.time() * 1000), "x")
migration_id = os.environ.get("MIGRATION_ID", "migration_a")


def sync_smoke(client: keyshift.Client) -> str:
    api_id = client.create_api(f"py-smoke-{run}").api_id
    created = client.create_api_key(api_id, name="smoke", prefix="sk",
                                    scopes=[keyshift.Scope(f"orders{run}", read=True)],
                                    meta={"plan": "pro"})
    assert created.key not in repr(created) and created.key not in str(created)
    v = client.verify(created.key, permissions=f"orders{run}.read")
    assert v.valid and v.code is VerifyCode.VALID and v.key_id == created.key_id, v
    v = client.verify(created.key, scopes=[keyshift.Scope(f"orders{run}", update=True)])
    assert v.code is VerifyCode.INSUFFICIENT_PERMISSIONS, v
    assert client.verify("sk_definitelyNotAKey1234567890").code is VerifyCode.NOT_FOUND
    assert client.get_key(created.key_id).name == "smoke"
    client.update_key(created.key_id, name="renamed", meta=keyshift.CLEAR)
    assert client.get_key(created.key_id).name == "renamed"
    perms = client.add_permissions(created.key_id, [f"orders{run}.write"])
    assert any(p.slug == f"orders{run}.write" for p in perms)
    assert created.key_id in [k.key_id for k in client.iter_keys(api_id)]
    records = ({"key": f"legacy_{run}_{i}_abcdefghijklmnop", "name": f"m{i}"} for i in range(25))
    report = client.migrate_keys(records, api_id=api_id, migration_id=migration_id, batch_size=10)
    assert report.migrated == 25 and report.is_complete, report
    assert client.verify(f"legacy_{run}_3_abcdefghijklmnop").valid
    # Default options: batch size and requests in flight adapt to this server's answer times.
    bulk = ({"key": f"bulk_{run}_{i}_abcdefghijklmnop"} for i in range(2000))
    report = client.migrate_keys(bulk, api_id=api_id, migration_id=migration_id)
    assert report.migrated == 2000 and report.is_complete, report
    print(f"adaptive migration: 2000 keys in {report.batches} batches")
    assert client.verify(f"bulk_{run}_1999_abcdefghijklmnop").valid
    seen: list[str] = []
    fallback = client.verify_with_fallback(f"legacy_only_{run}_abcdefghijkl",
                                           legacy=lambda k: seen.append(k) is None)
    assert fallback.valid and len(seen) == 1
    try:
        client.get_key("key_doesNotExist123")
        raise AssertionError("expected NotFoundError")
    except keyshift.NotFoundError as e:
        assert e.code == "not_found" and e.status == 404 and e.request_id
    bad = keyshift.Client(os.environ["KEYSHIFT_BASE_URL"], "unkey_wrongRootKey1234567890")
    try:
        bad.create_api("unauthorized-check")
        raise AssertionError("expected UnauthorizedError")
    except keyshift.UnauthorizedError as e:
        assert e.status == 401
    client.delete_key(created.key_id)
    assert not client.verify(created.key).valid
    return api_id


async def async_smoke(client: keyshift.AsyncClient, api_id: str) -> None:
    created = await client.create_api_key(api_id, name="async")
    results = await asyncio.gather(*(client.verify(created.key) for _ in range(50)))
    assert all(r.valid for r in results)


with keyshift.Client(os.environ["KEYSHIFT_BASE_URL"], os.environ["KEYSHIFT_ROOT_KEY"]) as c:
    api = sync_smoke(c)
asyncio.run(async_smoke(keyshift.AsyncClient(os.environ["KEYSHIFT_BASE_URL"],
                                             os.environ["KEYSHIFT_ROOT_KEY"]), api))
print(f"python smoke passed against {os.environ['KEYSHIFT_BASE_URL']} (api {api})")
