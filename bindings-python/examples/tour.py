"""A typed tour of the whole keyshift Python API (checked by `mypy --strict`, run by the tests).

    python examples/tour.py DB_PATH [BASE_URL ROOT_KEY]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Iterator
from typing import Any, Optional

import keyshift
from keyshift import VerifyCode


def local_functions() -> None:
    key: str = keyshift.generate_key("sk_live", 24)
    # Any other last character breaks the checksum (a key may already end in "x").
    tampered = key[:-1] + ("y" if key.endswith("x") else "x")
    assert keyshift.looks_like_key(key) and not keyshift.looks_like_key(tampered)
    masked: str = keyshift.mask_key(key)
    start: str = keyshift.key_start(key)
    prefix: Optional[str] = keyshift.key_prefix(key)
    assert masked.endswith(key[-4:]) and start.startswith("sk_live_") and prefix == "sk_live"
    h: keyshift.KeyHash = keyshift.hash_key(key)
    assert h.variant == "sha256_base64" and h.matches(key)
    hashes: list[str] = keyshift.hash_keys([key, "other"], "sha256_hex")
    assert len(hashes[0]) == 64
    assert keyshift.KeyHash.parse(hashes[0].upper(), "sha256_hex").value == hashes[0]
    legacy_hash = "$2a$04$cdF7/Pg8vkwj/.UqrvolQuSggBqmbnVZW663R3TiADIcFmqD8KSC6"
    assert keyshift.verify_bcrypt("sk_live_3ZxH8qLp2VbN7mRt", legacy_hash)
    assert not keyshift.verify_bcrypt("sk_live_wrong", legacy_hash)
    assert len(keyshift.checksum("abc")) == 6
    scope = keyshift.Scope("profile", read=True, update=True)
    assert scope.permissions() == ["profile.read", "profile.update"]
    assert keyshift.Scope.parse("profile:read,update") == scope
    assert keyshift.Scope.all("doc").delete
    assert keyshift.scopes_to_permissions([scope]) == scope.permissions()
    assert keyshift.permissions_to_scopes(["profile.read", "profile.update"]) == [scope]
    q: keyshift.PermissionQuery = keyshift.parse_permission_query("a AND (b OR c)")
    assert q.evaluate(["a", "c"]) and q.names() == ["a", "b", "c"]
    try:
        keyshift.parse_permission_query("a AND (")
    except keyshift.InvalidInputError as e:
        assert e.code == "invalid_input" and e.field == "permissions"


def records(n: int, tag: str) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"key": f"{tag}_legacy_{i:08d}_abcdefgh", "name": f"legacy {i}"}


def sync_tour(client: keyshift.Client) -> None:
    api: keyshift.Api = client.create_api("tour")
    assert client.get_api(api.api_id).name == "tour"
    perm_id: str = client.create_permission("tour.read", description="read the tour")
    role_id: str = client.create_role("tour-reader", permissions=["tour.read"])
    ident_id: str = client.create_identity("customer-tour", meta={"plan": "pro"})
    created: keyshift.CreatedKey = client.create_api_key(
        api.api_id, name="tour", prefix="sk_tour", scopes=[keyshift.Scope("profile", read=True)],
        permissions=["orders.read"], roles=["tour-reader"], external_id="customer-tour",
        meta={"team": "a"}, expires=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        credits=100, refill={"interval": "daily", "amount": 100},
        ratelimits=[{"name": "requests", "limit": 100, "duration": 60_000, "auto_apply": True}],
        enabled=True)
    v: keyshift.Verification = client.verify(created.key, permissions="orders.read AND tour.read",
                                             scopes=[keyshift.Scope("profile", read=True)],
                                             credits_cost=1, tags=["tour"])
    assert v.valid and v.code is VerifyCode.VALID and v.external_id == "customer-tour"
    assert v.to_dict()["key_id"] == created.key_id and created.key not in repr(created)
    key: keyshift.Key = client.get_key(created.key_id)
    assert client.whoami(created.key).key_id == key.key_id
    client.update_key(created.key_id, name="renamed", meta=keyshift.CLEAR, enabled=True)
    credits: keyshift.Credits = client.update_credits(created.key_id, operation="set", value=5)
    assert credits.remaining == 5
    perms: list[keyshift.Permission] = client.add_permissions(created.key_id, ["extra.read"])
    assert any(p.slug == "extra.read" for p in perms)
    client.remove_permissions(created.key_id, ["extra.read"])
    client.set_permissions(created.key_id, ["orders.read"])
    roles: list[keyshift.Role] = client.add_roles(created.key_id, ["tour-reader"])
    assert roles[0].name == "tour-reader"
    client.remove_roles(created.key_id, ["tour-reader"])
    client.set_roles(created.key_id, [])
    assert client.get_permission(perm_id).slug == "tour.read"
    assert client.get_role(role_id).name == "tour-reader"
    assert client.set_role_permissions(role_id, ["tour.read"])[0].slug == "tour.read"
    assert any(p.id == perm_id for p in client.list_permissions())
    assert any(r.id == role_id for r in client.list_roles())
    ident: keyshift.Identity = client.update_identity(ident_id, meta={"plan": "team"})
    assert ident.meta == {"plan": "team"} and client.get_identity(ident_id).id == ident_id
    assert any(i.id == ident_id for i in client.list_identities())
    page: keyshift.KeyPage = client.list_keys(api.api_id, limit=10)
    assert [k.key_id for k in client.iter_keys(api.api_id)] == [k.key_id for k in page.keys]
    rerolled: keyshift.CreatedKey = client.reroll_key(created.key_id, expiration_ms=0)

    progress: list[float] = []

    def on_progress(p: keyshift.Progress) -> Optional[bool]:
        progress.append(p.elapsed)
        return None

    report: keyshift.MigrationReport = client.migrate_keys(
        records(300, "tour"), api_id=api.api_id, migration_id="tour-migration", batch_size=100,
        concurrency=2, on_progress=on_progress)
    assert report.migrated == 300 and report.is_complete and progress
    fallback = client.verify_with_fallback(
        "tour_not_migrated_yet_1234", legacy=lambda k: k.startswith("tour_"),
        backfill=keyshift.Backfill(api.api_id, "tour-backfill", permissions=["orders.read"]))
    assert fallback.valid and client.verify("tour_not_migrated_yet_1234").valid
    try:
        client.get_key("key_does_not_exist")
    except keyshift.NotFoundError as e:
        status: Optional[int] = e.status
        request_id: Optional[str] = e.request_id
        assert e.code == "not_found" and (status is None or status == 404)
        del request_id
    except keyshift.RateLimitedError as e:
        retry_after: Optional[float] = e.retry_after
        del retry_after
    client.delete_key(rerolled.key_id, permanent=True)
    client.delete_identity(ident_id)
    client.delete_role(role_id)
    client.delete_permission(perm_id)
    client.delete_api(api.api_id)


async def async_tour(client: keyshift.AsyncClient) -> None:
    async with client:
        api = await client.create_api("tour-async")
        created = await client.create_api_key(api.api_id, permissions=["a.read"])
        results = await asyncio.gather(*(client.verify(created.key, permissions="a.read")
                                         for _ in range(10)))
        assert all(r.valid for r in results)
        assert [k.key_id async for k in client.iter_keys(api.api_id)] == [created.key_id]
        report = await client.migrate_keys(records(10, "atour"), api_id=api.api_id,
                                           migration_id="tour-async")
        assert report.migrated == 10
        v = await client.verify_with_fallback("tour_async_x_123456", legacy=lambda k: False)
        assert v.code is VerifyCode.NOT_FOUND
        await client.delete_api(api.api_id)


def main(argv: list[str]) -> None:
    local_functions()
    db = argv[1]
    if len(argv) > 3:
        with keyshift.Client(argv[2], argv[3], timeout=5.0, max_attempts=3) as remote:
            sync_tour(remote)
        asyncio.run(async_tour(keyshift.AsyncClient(argv[2], argv[3])))
    with keyshift.Client.local(db) as local:
        sync_tour(local)
    asyncio.run(async_tour(keyshift.AsyncClient.local(db + ".async")))
    print("tour ok")


if __name__ == "__main__":
    main(sys.argv)
