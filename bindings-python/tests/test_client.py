"""Every client method, blocking (`Client`) and awaitable (`AsyncClient`), over HTTP against the
session's `keyshift serve` and in-process (`Client.local`): the `kind` fixture runs each twice."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

import keyshift
from keyshift import VerifyCode

from conftest import Server


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_and_verify_with_scopes_and_permissions(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(
        api_id, name="orders", prefix="sk_test",
        scopes=[keyshift.Scope("profile", read=True, update=True)],
        permissions=["orders.read"], meta={"plan": "pro", "n": 3},
        expires=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1), credits=5)
    assert created.key.startswith("sk_test_") and keyshift.looks_like_key(created.key)
    assert created.masked == keyshift.mask_key(created.key)
    v = client.verify(created.key, permissions="orders.read AND profile.update")
    assert v.valid and v.code is VerifyCode.VALID and v.code == "VALID" and bool(v)
    assert v.key_id == created.key_id and v.name == "orders"
    assert sorted(v.permissions) == ["orders.read", "profile.read", "profile.update"]
    assert v.meta == {"plan": "pro", "n": 3}
    assert v.credits == 4  # one credit spent
    assert v.expires is not None and v.expires > time.time() * 1000
    assert keyshift.Scope("profile", read=True, update=True) in v.scopes()
    assert v.has_permission("orders.read") and not v.has_permission("orders.write")
    denied = client.verify(created.key, permissions="orders.write OR admin")
    assert not denied.valid and denied.code is VerifyCode.INSUFFICIENT_PERMISSIONS
    scoped = client.verify(created.key, scopes=[keyshift.Scope("profile", delete=True)])
    assert scoped.code is VerifyCode.INSUFFICIENT_PERMISSIONS
    unknown = client.verify("sk_test_" + "x" * 30)
    assert not unknown.valid and unknown.code is VerifyCode.NOT_FOUND and unknown.key_id is None


def test_results_are_immutable_comparable_and_dict_shaped(client: keyshift.Client,
                                                           api_id: str) -> None:
    created = client.create_api_key(api_id, name="imm")
    key = client.get_key(created.key_id)
    with pytest.raises(AttributeError):
        key.name = "changed"  # type: ignore[misc]
    assert key == client.get_key(created.key_id)
    d = key.to_dict()
    assert d["key_id"] == created.key_id and d["name"] == "imm" and d["enabled"] is True
    assert "Key(key_id=" in repr(key)
    v1 = client.verify(created.key)
    assert v1.to_dict()["code"] == "VALID" and v1.to_dict()["valid"] is True
    a, b = client.verify("nope_" + "1" * 20), client.verify("nope_" + "1" * 20)
    da, db = a.to_dict(), b.to_dict()
    assert (a == b) == (da["request_id"] == db["request_id"])  # equal iff every field is
    da.pop("request_id"), db.pop("request_id")
    assert da == db and a != v1


def test_get_update_whoami_reroll_delete(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(api_id, name="before", external_id=uniq("user"))
    client.update_key(created.key_id, name="after", meta={"a": 1}, enabled=True,
                      expires=int(time.time() * 1000) + 3_600_000)
    key = client.get_key(created.key_id)
    assert key.name == "after" and key.meta == {"a": 1} and key.expires is not None
    client.update_key(created.key_id, meta=keyshift.CLEAR, expires=keyshift.CLEAR)
    key = client.get_key(created.key_id)
    assert key.meta is None and key.expires is None and key.name == "after"
    assert client.whoami(created.key).key_id == created.key_id
    client.update_key(created.key_id, enabled=False)
    assert client.verify(created.key).code is VerifyCode.DISABLED
    rerolled = client.reroll_key(created.key_id, expiration_ms=0)
    assert rerolled.key != created.key and rerolled.key_id != created.key_id
    assert client.verify(rerolled.key).key_id == rerolled.key_id
    client.delete_key(rerolled.key_id)
    assert client.verify(rerolled.key).code is VerifyCode.NOT_FOUND
    with pytest.raises(keyshift.NotFoundError):
        client.get_key(rerolled.key_id)


def test_credits(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(api_id, credits=1)
    assert client.verify(created.key).valid
    assert client.verify(created.key).code is VerifyCode.USAGE_EXCEEDED
    credits = client.update_credits(created.key_id, operation="increment", value=2)
    assert credits.remaining == 2
    assert client.verify(created.key, credits_cost=2).valid
    unlimited = client.update_credits(created.key_id, operation="set", value=None)
    assert unlimited.remaining is None
    with pytest.raises(keyshift.InvalidInputError) as info:
        client.update_credits(created.key_id, operation="double", value=2)
    assert info.value.field == "operation"


def test_ratelimits(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(
        api_id, ratelimits=[{"name": "req", "limit": 2, "duration": 60_000, "auto_apply": True}])
    assert client.verify(created.key).valid and client.verify(created.key).valid
    limited = client.verify(created.key)
    assert limited.code is VerifyCode.RATE_LIMITED and not limited.valid
    assert any(r.name == "req" and r.exceeded for r in limited.ratelimits)


def test_permissions_and_roles(client: keyshift.Client, api_id: str) -> None:
    perm = uniq("docs") + ".read"
    pid = client.create_permission(perm, description="read docs")
    assert pid and client.get_permission(pid).slug == perm
    assert any(p.slug == perm for p in client.list_permissions())
    role = uniq("editor")
    rid = client.create_role(role, permissions=[perm])
    got = client.get_role(rid)
    assert got.name == role and [p.slug for p in got.permissions] == [perm]
    assert any(r.id == rid for r in client.list_roles())
    other = uniq("x") + ".write"
    assert [p.slug for p in client.set_role_permissions(rid, [other])] == [other]
    created = client.create_api_key(api_id)
    assert [p.slug for p in client.add_permissions(created.key_id, [perm])] == [perm]
    assert client.verify(created.key, permissions=perm).valid
    assert client.remove_permissions(created.key_id, [perm]) == []
    assert not client.verify(created.key, permissions=perm).valid
    assert sorted(p.slug for p in client.set_permissions(created.key_id, [perm, other])) == \
        sorted([perm, other])
    assert [r.name for r in client.add_roles(created.key_id, [role])] == [role]
    assert client.verify(created.key).roles == [role]
    assert client.set_roles(created.key_id, []) == []
    client.add_roles(created.key_id, [role])
    assert client.remove_roles(created.key_id, [role]) == []
    client.delete_role(rid)
    with pytest.raises(keyshift.NotFoundError):
        client.get_role(rid)
    client.delete_permission(pid)
    with pytest.raises(keyshift.NotFoundError):
        client.get_permission(pid)


def test_identities(client: keyshift.Client, api_id: str) -> None:
    ext = uniq("customer")
    iid = client.create_identity(ext, meta={"tier": 1})
    ident = client.get_identity(ext)
    assert ident.id == iid and ident.external_id == ext and ident.meta == {"tier": 1}
    updated = client.update_identity(iid, meta={"tier": 2},
                                      ratelimits=[{"name": "per-sec", "limit": 5, "duration": 1000}])
    assert updated.meta == {"tier": 2} and [r.name for r in updated.ratelimits] == ["per-sec"]
    assert any(i.id == iid for i in client.list_identities())
    created = client.create_api_key(api_id, external_id=ext)
    v = client.verify(created.key)
    assert v.external_id == ext and v.identity is not None and v.identity.id == iid
    client.delete_identity(iid)
    with pytest.raises(keyshift.NotFoundError):
        client.get_identity(iid)


def test_apis_and_pager(client: keyshift.Client) -> None:
    api = client.create_api(uniq("pager"))
    got = client.get_api(api.api_id)
    assert got == api and got.name == api.name
    ids = {client.create_api_key(api.api_id, name=f"k{i}").key_id for i in range(7)}
    page = client.list_keys(api.api_id, limit=3)
    assert len(page.keys) == 3 and page.has_more and page.cursor
    nxt = client.list_keys(api.api_id, limit=3, cursor=page.cursor)
    assert not {k.key_id for k in page.keys} & {k.key_id for k in nxt.keys}
    assert {k.key_id for k in client.iter_keys(api.api_id)} == ids
    client.delete_api(api.api_id)
    with pytest.raises(keyshift.NotFoundError):
        client.get_api(api.api_id)


def test_closed_client_raises(server: object, kind: str, local_db: object) -> None:
    c = keyshift.Client.local(str(local_db))
    with c:
        assert c.create_api(uniq("ctx")).api_id
    with pytest.raises(keyshift.IoError):
        c.create_api("after-close")


# ----- async --------------------------------------------------------------------------------


async def test_async_context_manager_closes(tmp_path: object) -> None:
    fresh = keyshift.AsyncClient.local(f"{tmp_path}/ctx.db")
    async with fresh as c:
        assert c is fresh and (await c.create_api("ctx")).api_id
    with pytest.raises(keyshift.IoError):
        await fresh.create_api("after-close")


async def test_async_every_method(aclient: keyshift.AsyncClient) -> None:
    api = await aclient.create_api(uniq("async"))
    assert (await aclient.get_api(api.api_id)).name == api.name
    created = await aclient.create_api_key(api.api_id, name="a", permissions=["p.read"],
                                           scopes=[keyshift.Scope.all("doc")], credits=10)
    v = await aclient.verify(created.key, permissions="p.read AND doc.delete")
    assert v.valid and v.key_id == created.key_id and v.credits == 9
    assert (await aclient.verify("zz_" + "y" * 24)).code is VerifyCode.NOT_FOUND
    assert (await aclient.get_key(created.key_id)).name == "a"
    assert (await aclient.whoami(created.key)).key_id == created.key_id
    await aclient.update_key(created.key_id, name="b", credits=keyshift.CLEAR)
    assert (await aclient.get_key(created.key_id)).name == "b"
    assert (await aclient.update_credits(created.key_id, operation="set", value=3)).remaining == 3
    perm = uniq("ap") + ".read"
    pid = await aclient.create_permission(perm)
    assert (await aclient.get_permission(pid)).slug == perm
    assert any(p.id == pid for p in await aclient.list_permissions())
    role = uniq("arole")
    rid = await aclient.create_role(role, permissions=[perm])
    assert (await aclient.get_role(rid)).name == role
    assert any(r.id == rid for r in await aclient.list_roles())
    assert [p.slug for p in await aclient.set_role_permissions(rid, [perm])] == [perm]
    added = [p.slug for p in await aclient.add_permissions(created.key_id, [perm])]
    assert perm in added and "p.read" in added
    assert perm in (await aclient.verify(created.key)).permissions
    assert perm not in [p.slug for p in await aclient.remove_permissions(created.key_id, [perm])]
    assert [p.slug for p in await aclient.set_permissions(created.key_id, [perm])] == [perm]
    assert [r.name for r in await aclient.add_roles(created.key_id, [role])] == [role]
    assert await aclient.remove_roles(created.key_id, [role]) == []
    assert [r.name for r in await aclient.set_roles(created.key_id, [role])] == [role]
    ext = uniq("acust")
    iid = await aclient.create_identity(ext)
    assert (await aclient.get_identity(iid)).external_id == ext
    assert (await aclient.update_identity(iid, meta={"k": "v"})).meta == {"k": "v"}
    assert any(i.id == iid for i in await aclient.list_identities())
    await aclient.delete_identity(iid)
    page = await aclient.list_keys(api.api_id)
    assert [k.key_id for k in page.keys] == [created.key_id]
    seen = [k.key_id async for k in aclient.iter_keys(api.api_id)]
    assert seen == [created.key_id]
    rerolled = await aclient.reroll_key(created.key_id)
    assert (await aclient.verify(rerolled.key)).valid
    await aclient.delete_key(rerolled.key_id, permanent=True)
    await aclient.delete_role(rid)
    await aclient.delete_permission(pid)
    await aclient.delete_api(api.api_id)
    with pytest.raises(keyshift.NotFoundError) as info:
        await aclient.get_api(api.api_id)
    assert info.value.code == "not_found"


def test_environment_fallbacks(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, root_key = server.base_url, server.root_key
    monkeypatch.delenv("KEYSHIFT_ROOT_KEY", raising=False)
    monkeypatch.delenv("KEYSHIFT_BASE_URL", raising=False)
    monkeypatch.delenv("UNKEY_ROOT_KEY", raising=False)
    with pytest.raises(keyshift.InvalidInputError) as info:
        keyshift.Client()
    assert info.value.field == "root_key"
    monkeypatch.setenv("KEYSHIFT_BASE_URL", base_url)
    monkeypatch.setenv("UNKEY_ROOT_KEY", root_key)
    with keyshift.Client() as c:
        assert repr(c) == f'Client("{base_url}")' and c.create_api(uniq("env")).api_id
    monkeypatch.delenv("UNKEY_ROOT_KEY")
    with keyshift.Client(root_key=root_key) as c:
        assert c.create_api(uniq("env2")).api_id
